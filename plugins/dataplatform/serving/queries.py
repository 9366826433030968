"""The serving reads on one model version's tables: batched, one round trip, no lock waits, no open transaction.

Every read runs as one pipelined transaction (`reading`): `set_read_limits.sql` (transaction-local
`hnsw.ef_search`, `statement_timeout`, `lock_timeout`), then the batch's statements, then COMMIT, all sent before
the first result is awaited. It works the same on an autocommit connection and on one that is not (an Airflow
hook's default): the transaction is committed before returning, or is a savepoint inside a transaction the caller
already had open. The session's own settings are never changed.

HNSW in pgvector 0.6 returns at most `hnsw.ef_search` rows from one scan, before any filter; the reads here ask
for `k` + what the caller will drop (cart items, the browsed product itself) and raise `ef_search` to at least
that for the transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from dataplatform.serving.live import LiveModel
from dataplatform.serving.sql_files import sql_text

EF_SEARCH = 160
"""`hnsw.ef_search` for serving reads, from measurement (`bench/results/serving_recall.md`, m = 16,
ef_construction = 64): "similar" (cosine) has recall@10 1.0 from ef_search 40 at 10k and 100k items; "based on
your profile" (inner product) needs 160 for >= 0.98 at 10k (40: 0.95, 100: 0.98) and does not reach 0.98 at
100k even at 400 (0.97, at 5x the time). So the recommender answers from the live version's item matrix in
process (exact: `version_matrix`) and these HNSW reads serve only while that matrix loads after a swap, or for a
catalogue above `ServingOptions.in_process_items`."""
MAX_EF_SEARCH = 1000
STATEMENT_TIMEOUT = "250ms"
LOCK_TIMEOUT = "50ms"
"""A serving read never waits on a lock for long: the live version's tables are only ever locked exclusively
by someone dropping or rewriting them by hand."""


@dataclass(frozen=True)
class ReadLimits:
    ef_search: int = EF_SEARCH
    statement_timeout: str = STATEMENT_TIMEOUT
    lock_timeout: str = LOCK_TIMEOUT

    def at_least(self, candidates: int) -> ReadLimits:
        """These limits with `ef_search` raised to `candidates` (HNSW returns at most ef_search rows)."""
        if candidates > MAX_EF_SEARCH:
            raise ValueError(f"{candidates} candidates asked, above HNSW's maximum ef_search {MAX_EF_SEARCH}")
        return self if candidates <= self.ef_search else replace(self, ef_search=candidates)

    def with_statement_timeout(self, seconds: float) -> ReadLimits:
        """These limits with the server ending a statement after `seconds` (a caller's deadline)."""
        return replace(self, statement_timeout=f"{max(1, round(seconds * 1000))}ms")


def register_vector_types(conn: psycopg.Connection) -> None:
    """pgvector's dumpers and loaders (numpy arrays <-> vector, vector[]), once per connection."""
    if conn.adapters.types.get("vector") is None:
        from pgvector.psycopg import register_vector

        register_vector(conn)


@contextmanager
def reading(conn: psycopg.Connection, limits: ReadLimits) -> Iterator[psycopg.Cursor]:
    """A cursor in one pipelined read transaction that starts with the read limits (see the module docstring)."""
    register_vector_types(conn)
    with conn.pipeline(), conn.transaction():
        cur = conn.cursor(row_factory=tuple_row)
        cur.execute(sql_text("set_read_limits.sql"), {
            "ef_search": str(limits.ef_search), "statement_timeout": limits.statement_timeout,
            "lock_timeout": limits.lock_timeout})
        yield cur


def _composed(name: str, live: LiveModel) -> sql.Composed:
    return sql.SQL(sql_text(name)).format(**live.identifiers())  # type: ignore[arg-type]


@dataclass(frozen=True)
class ProfileQuery:
    """One "based on your profile" query: the customer's stored vector if any, else `vector`."""

    customer_number: int | None
    vector: np.ndarray | None
    limit: int


@dataclass(frozen=True)
class ProfileAnswer:
    stored: bool
    """The customer's stored vector was used (else the computed one, or neither: no rows)."""
    items: list[tuple[str, float]]
    """(product_code, score), best first."""


class PendingReads:
    """Statements queued in one `reading` transaction; results are read after it (one round trip for all)."""

    def __init__(self, conn: psycopg.Connection, live: LiveModel, limits: ReadLimits) -> None:
        self._conn, self._live, self._limits = conn, live, limits
        self._profiles: tuple[psycopg.Cursor, int] | None = None
        self._similar: psycopg.Cursor | None = None
        self._users: psycopg.Cursor | None = None

    def limits_for(self, profiles: Sequence[ProfileQuery], similar_limit: int) -> ReadLimits:
        return self._limits.at_least(max([similar_limit, *(q.limit for q in profiles)]))

    def items_for_profiles(self, queries: Sequence[ProfileQuery]) -> None:
        if not queries:
            return
        cur = self._conn.cursor(row_factory=tuple_row)
        cur.execute(_composed("select_items_for_profiles.sql", self._live), {
            "customers": [q.customer_number for q in queries],
            "vectors": [None if q.vector is None else np.asarray(q.vector, dtype=np.float32) for q in queries],
            "limits": [q.limit for q in queries]})
        self._profiles = (cur, len(queries))

    def similar_items(self, codes: Sequence[str], limit: int) -> None:
        if not codes:
            return
        cur = self._conn.cursor(row_factory=tuple_row)
        cur.execute(_composed("select_similar_items.sql", self._live), {"codes": list(codes), "limit": limit + 1})
        self._similar = cur

    def user_vectors(self, customers: Sequence[int]) -> None:
        if not customers:
            return
        cur = self._conn.cursor(row_factory=tuple_row)
        cur.execute(_composed("select_user_vectors.sql", self._live), {"customers": list(customers)})
        self._users = cur

    def profile_answers(self) -> list[ProfileAnswer]:
        if self._profiles is None:
            return []
        cur, n = self._profiles
        answers = [ProfileAnswer(False, []) for _ in range(n)]
        for i, stored, code, score in cur.fetchall():
            answer = answers[i - 1]
            if stored and not answer.stored:
                answer = answers[i - 1] = ProfileAnswer(True, answer.items)
            answer.items.append((str(code), float(score)))
        return answers

    def similar_answers(self) -> dict[str, list[tuple[str, float]]]:
        out: dict[str, list[tuple[str, float]]] = {}
        for source, code, distance in self._similar.fetchall() if self._similar is not None else []:
            out.setdefault(str(source), []).append((str(code), float(distance)))
        return out

    def user_vector_answers(self) -> dict[int, np.ndarray]:
        rows = self._users.fetchall() if self._users is not None else []
        return {int(c): np.asarray(v, dtype=np.float32) for c, v in rows}


def read_batch(
    conn: psycopg.Connection,
    live: LiveModel,
    *,
    profiles: Sequence[ProfileQuery] = (),
    similar_codes: Sequence[str] = (),
    similar_limit: int = 0,
    user_vectors: Sequence[int] = (),
    limits: ReadLimits | None = None,
) -> PendingReads:
    """Run a batch's reads in one pipelined transaction on `live`'s tables; the results are on the returned object.

    `profiles`: "based on your profile" queries (`ProfileQuery.limit` rows each, before the caller's filtering).
    `similar_codes`: browsed products; up to `similar_limit` nearest items each, the product itself left out.
    `user_vectors`: customers whose stored vectors to return.
    """
    base = limits or ReadLimits()
    pending = PendingReads(conn, live, base)
    needed = pending.limits_for(profiles, similar_limit + 1 if similar_codes else 0)
    with reading(conn, needed):
        pending.items_for_profiles(profiles)
        pending.similar_items(similar_codes, similar_limit)
        pending.user_vectors(user_vectors)
    return pending


def popular_ranking(conn: psycopg.Connection, n: int, limits: ReadLimits | None = None) -> list[tuple[str, str]]:
    """(country, product_code) rows of the popular-products table, best first within each country ('*' = all);
    raises `psycopg.errors.UndefinedTable` before the first refresh published it."""
    with reading(conn, limits or ReadLimits()):
        cur = conn.cursor(row_factory=tuple_row)
        cur.execute(sql_text("select_popular_ranking.sql"), {"n": n})
    return [(str(country), str(code)) for country, code in cur.fetchall()]
