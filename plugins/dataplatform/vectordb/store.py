"""The vector store: model versions of item and user embeddings in PostgreSQL + pgvector (plain Python).

Every function takes a psycopg 3 `Connection` and works in the first schema of its `search_path` (the
`vector` extension itself lives in `public`, created once by a superuser).

**Layout.** Each model version gets its own four tables, named from a slug of the version string
(`20261123T140000Z-ab12cd` -> `20261123t140000z_ab12cd_<8 hex of its sha256>`; lower-case `[a-z0-9_]`,
at most 33 characters, so names stay under PostgreSQL's 63 and two versions never share one):

    item_embeddings__<slug>  (product_code text PRIMARY KEY, embedding vector(dim))   + 2 HNSW indexes
    user_embeddings__<slug>  (customer_number integer PRIMARY KEY, embedding vector(dim))
    item_neighbours__<slug>  (product_code text PRIMARY KEY, neighbours text[], distances real[], positions int4[])
    user_top_items__<slug>   (customer_number integer PRIMARY KEY, items text[], scores real[], positions int4[])

The last two are the neighbour lists, computed exactly when the version is loaded (`neighbour_lists`: each
item's 32 nearest items by cosine distance, each stored customer's 50 best items by inner product): a version's
items and customers never change, so the serving package answers stored customers and known products by lookup
instead of a scan per request (`dataplatform.serving.version_matrix`; 100k items take about a minute here; a kind of
list that would take more than `MAX_LIST_SCORES` scores is left out, its table empty, and served by scans). The
lists name items twice: as product codes for people, and as `positions` in the version's items in code-point order
(`ORDER BY product_code COLLATE "C"`), which the serving package loads without a lookup per entry (a
Lambda's cold start reads 100k items' vectors and lists in ~3 s, ~6.5 s by product code).

`model_versions` records every version (dimension, counts, source files, metrics, load timings, when it was
loaded, went live, stopped being live, was pruned) with a partial unique index that allows at most one live row.
Readers (the Lambdas, through `dataplatform.serving.live`, and the query helpers below) resolve the live version
from `model_versions` and query its tables directly, so nothing the loader does can make them wait; the views
`item_embeddings` and `user_embeddings` point at the live version's tables for people and dashboards.
Identifiers are only ever composed with `psycopg.sql.Identifier`.

Why a table pair per version and views, rather than one table with a `version` column or a TRUNCATE +
reload: the load (minutes at 1M rows) and its index builds touch nothing readers use; going live is a
catalogue change of a few milliseconds; a rollback is the same swap to tables still there; and a new
version may change the dimension, which a single `vector(n)` column could not hold.

**Load** (`load_version`): one transaction creates the tables, bulk-loads them by binary COPY (FREEZE: the
table is new in this transaction), adds the primary keys, builds the HNSW indexes, runs ANALYZE and
records the version as not live. Any failure (a NaN, a wrong dimension, a duplicate id, a lost connection)
rolls all of it back: nothing is left behind and the live version is untouched. Loading a version that
was loaded before but is not live (a DAG rerun) replaces its tables; the live version is never reloaded.

**Index choice.** Items get two HNSW indexes: `vector_ip_ops` for "based on your profile" (the user vector
against item vectors by inner product, `<#>`: the reference model's user . item is its score) and
`vector_cosine_ops` for "similar to what you browsed" (item against items by cosine distance, `<=>`). An
index only serves the operator of its operator class, hence two. Users get no ANN index: they are only
looked up by primary key. HNSW rather than IVFFlat: no training step on the data (so it can be built right
after the COPY of any size, including a small catalogue), better recall/latency trade-off, and it stays
accurate as rows change. `m` = 16 and `ef_construction` = 64 are pgvector's defaults; the build session gets
`maintenance_work_mem` = 256MB: the graph must fit in it for a fast build, and a 32-dim index takes ~0.4 KB
per item (41 MB at 100k, 414 MB at 1M: bench/results/vector_load.md), so raise it beyond ~500k items.

**Going live** (`swap_live`, `rollback`): one transaction moves the live flag in `model_versions` (the old
version records `retired_at`) and drops and re-creates both views over the version's tables (DROP + CREATE:
the dimension, the column's typmod, may change). Online readers never wait for it: they read `model_versions`
(the swap's SHARE ROW EXCLUSIVE lock and row updates do not block a SELECT) and the versions' own tables, which
the swap does not lock; a reader sees the old version until the swap commits and its cache (at most
`serving.live.LIVE_CACHE_SECONDS`) expires, then the new one; never an empty, partial or missing table, and one
answer never mixes two versions (`tests/plugins/vectordb/test_store.py`, with a reader holding a 2-second
transaction on the views during 20 swaps). The swap itself waits at most `lock_timeout` (default 5 s) for
people's queries to let go of the views, so a stuck dashboard fails the swap (the DAG retries). The views expose
`embedding::vector` without a typmod so that their readers' prepared statements survive a dimension change.
Reader privileges: DROP + CREATE loses grants on the views, and every version has new tables; give a read-only
role access once with `ALTER DEFAULT PRIVILEGES FOR ROLE <loader> IN SCHEMA <schema> GRANT SELECT ON TABLES TO
<reader>` (it covers `model_versions`, the version tables and the views).

**Pruning** (`prune`): drops the tables of non-live versions beyond the newest `keep` (by load time) and
marks their rows `pruned_at`; the row stays as history. The live version, the one `rollback()` would go back
to, and any version that stopped being live less than `serving.live.RETIRED_GRACE_SECONDS` ago (a reader's
cache may still name it) are never pruned.

**Transactions.** State-changing functions run in `conn.transaction()`: on an idle connection (autocommit
or not) they commit before returning; inside a caller's open transaction they are a savepoint and commit
with it. The administrative reads also run in their own transaction so they leave the connection idle.
The query helpers (`similar_items`, `recommend_for_user`, `recommend_for_vector`, `user_vector`) are the
serving package's reads (`dataplatform.serving.queries`) for one request: on any connection, autocommit or
not, they leave no transaction open and change no session setting (`hnsw.ef_search` is raised for their own
transaction, see there); they register pgvector's adapters on first use.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from dataplatform.paths import sql_path
from dataplatform.serving import live as serving_live
from dataplatform.serving import queries as serving_queries
from dataplatform.serving.live import (  # noqa: F401 - shared with readers
    ITEM_PREFIX,
    USER_PREFIX,
    table_names,
    version_identifiers,
    version_tables,
)
from dataplatform.serving.sql_files import sql_text
from dataplatform.serving.version_matrix import ITEM_NEIGHBOURS, USER_TOP_ITEMS, RankedLists, VersionMatrix

if TYPE_CHECKING:
    from dataplatform.vectordb.embeddings_file import EmbeddingsTable

MAX_SLUG = 33
"""Slug length bound: `item_embeddings__` (17) + slug + `_cosine` (7) stays within PostgreSQL's 63 bytes."""
MAX_HNSW_DIMENSION = 2000
"""pgvector's limit for an HNSW index on `vector`."""
MAX_EF_SEARCH = serving_queries.MAX_EF_SEARCH
MIN_PGVECTOR = (0, 5, 0)
"""HNSW arrived in pgvector 0.5.0."""


class VectorStoreError(RuntimeError):
    """The vector store cannot do what was asked; the message says why and what to do."""


class UnknownVersionError(VectorStoreError, LookupError):
    """No such model version (or its tables were pruned)."""


class VersionIsLiveError(VectorStoreError):
    """The version is live: it cannot be reloaded or pruned."""


@dataclass(frozen=True)
class LoadResult:
    """What `load_version` loaded; JSON-serialisable (`dataclasses.asdict` or `__dict__`)."""

    version: str
    slug: str
    dimension: int
    item_count: int
    user_count: int
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step: neighbour_lists, copy_items, copy_users, copy_lists, primary_keys, index_items_ip,
    index_items_cosine, analyze, total."""


# --- names ---------------------------------------------------------------------------------------------------


def slug(version: str) -> str:
    """The table-name suffix of a version: readable, `[a-z0-9_]`, at most `MAX_SLUG` characters.

    `20261123T140000Z-ab12cd` -> `20261123t140000z_ab12cd_<8 hex>`. The hash of the exact version string keeps
    two versions that sanitise alike (`A-1` and `a_1`, or a long common prefix) apart; `load_version` refuses
    the 1-in-4-billion case of two versions with the same slug.
    """
    if not version or not version.strip() or len(version) > 200:
        raise ValueError(f"a model version is a non-empty string of at most 200 characters, got {version!r}")
    readable = re.sub(r"[^a-z0-9]+", "_", version.lower()).strip("_")[: MAX_SLUG - 9].rstrip("_")
    digest = hashlib.sha256(version.encode("utf-8")).hexdigest()[:8]
    return f"{readable}_{digest}" if readable else f"v_{digest}"


def _composed(name: str, **parts: sql.Composable) -> sql.Composed:
    """An `include/sql` file whose `{placeholders}` are identifiers or literals, composed by psycopg."""
    return sql.SQL(sql_path(name).read_text()).format(**parts)


def _query(name: str) -> str:
    return sql_path(name).read_text()


# --- schema --------------------------------------------------------------------------------------------------


def _check_connection(conn: Any) -> None:
    if not isinstance(conn, psycopg.Connection):
        raise TypeError(f"the vector store needs a psycopg 3 Connection, got {type(conn).__name__}")


def ensure_schema(conn: psycopg.Connection) -> None:
    """Check pgvector (>= 0.5, for HNSW) is installed, then create `model_versions` if missing. Idempotent."""
    _check_connection(conn)
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        database = conn.info.dbname
        if row is None:
            raise VectorStoreError(
                f"the pgvector extension is not installed in database {database!r}: a superuser (on RDS, a member "
                "of rds_superuser) must run CREATE EXTENSION vector; the application user cannot"
            )
        installed = tuple(int(p) for p in re.findall(r"\d+", row[0])[:3])
        if installed < MIN_PGVECTOR:
            raise VectorStoreError(
                f"pgvector {row[0]} in database {database!r} has no HNSW index; ALTER EXTENSION vector UPDATE "
                f"to >= {'.'.join(map(str, MIN_PGVECTOR))}"
            )
        cur.execute(_query("create_vector_store.sql"))


def _register(conn: psycopg.Connection) -> None:
    """pgvector's dumpers and loaders (numpy arrays <-> vector), once per connection."""
    if conn.adapters.types.get("vector") is None:
        from pgvector.psycopg import register_vector

        register_vector(conn)


# --- catalogue -----------------------------------------------------------------------------------------------


def _versions(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_query("select_model_versions.sql")).fetchall()


def versions(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every known version (including pruned ones), newest load first, as `model_versions` rows."""
    _check_connection(conn)
    with conn.transaction():
        rows = _versions(conn)
    return [{name: value for name, value in row.items() if name != "now"} for row in rows]


def live_version(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The live version's `model_versions` row, or None before the first swap."""
    return next((v for v in versions(conn) if v["is_live"]), None)


def _rollback_target(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The not-live, not-pruned version that went live most recently: where `rollback()` goes."""
    candidates = [v for v in rows if not v["is_live"] and v["pruned_at"] is None and v["went_live_at"]]
    return max(candidates, key=lambda v: v["went_live_at"], default=None)


# --- load ----------------------------------------------------------------------------------------------------


def _check_table(table: EmbeddingsTable, kind: str, dimension: int) -> None:
    vectors = table.vectors
    if table.kind != kind:
        raise ValueError(f"expected {kind} embeddings, got {table.kind} ({table.source})")
    if vectors.ndim != 2 or vectors.shape != (len(table.ids), dimension):
        raise ValueError(
            f"{table.source}: vectors of shape {vectors.shape} do not match {len(table.ids)} ids of dimension "
            f"{dimension}"
        )
    if not len(table.ids):
        raise ValueError(f"{table.source}: no {kind} embeddings to load")


def copy_rows(
    cur: psycopg.Cursor[Any], statement: sql.Composable, types: Sequence[str], ids: Sequence[Any], vectors: np.ndarray
) -> None:
    """Binary COPY of (id, vector) rows: psycopg sends each row in PostgreSQL's binary format, no text round trip.

    `types` are the columns' PostgreSQL types (`["text", "vector"]` or `["int4", "vector"]`); pgvector's
    adapters must be registered on the connection. Also used by `bench/vector_load.py`.
    """
    matrix = np.ascontiguousarray(vectors, dtype=">f4")  # pgvector's wire format: big-endian float4
    with cur.copy(statement) as copy:
        copy.set_types(list(types))
        for row_id, vector in zip(ids, matrix, strict=True):
            copy.write_row((row_id, vector))


def create_hnsw_index(
    cur: psycopg.Cursor[Any], table: str, opclass: str, *, m: int = 16, ef_construction: int = 64
) -> str:
    """Build one HNSW index `<table>_<ip|cosine>` on `embedding`; returns its name. Also used by the benches."""
    suffixes = {"vector_ip_ops": "ip", "vector_cosine_ops": "cosine", "vector_l2_ops": "l2"}
    if opclass not in suffixes:
        raise ValueError(f"unsupported operator class {opclass!r}; one of {sorted(suffixes)}")
    if not (2 <= m <= 100 and 4 <= ef_construction <= 1000 and ef_construction >= 2 * m):
        raise ValueError(f"HNSW needs 2 <= m <= 100 and 2m <= ef_construction <= 1000, got {m}, {ef_construction}")
    name = f"{table}_{suffixes[opclass]}"
    cur.execute(_composed("create_hnsw_index.sql", index=sql.Identifier(name), table=sql.Identifier(table),
                          opclass=sql.SQL(opclass), m=sql.Literal(m), ef_construction=sql.Literal(ef_construction)))
    return name


MAX_LIST_SCORES = 20_000_000_000
"""Products scored to compute one kind of list, above which the loader leaves that kind out (the serving package
then scans, or uses HNSW, for it): 100k items' neighbours are 10^10 scores, ~80 s on one BLAS thread here; the
cost grows with the square of the catalogue (1M items: hours)."""


def lists_expected(n_items: int, n_users: int, max_scores: int = MAX_LIST_SCORES) -> tuple[int, int]:
    """Rows a loaded version's (item neighbours, customers' best items) tables hold: one per item / user, or none
    for a kind of list the loader leaves out (more than `max_scores` scores)."""
    return (n_items if n_items * n_items <= max_scores else 0, n_users if n_users * n_items <= max_scores else 0)


def neighbour_lists(items: EmbeddingsTable, users: EmbeddingsTable, *, item_width: int = ITEM_NEIGHBOURS,
                    user_width: int = USER_TOP_ITEMS, max_scores: int = MAX_LIST_SCORES
                    ) -> tuple[list[str], RankedLists | None, RankedLists | None]:
    """Exactly, by the serving package's own scans, over the items in code-point order (the order the serving
    package loads them in, which the positions refer to): that order, each item's `item_width` nearest items by
    cosine distance (itself left out, rows in that order) and each user's `user_width` best items by inner product
    (rows in the user table's order); a kind of list is None when it would take more than `max_scores` scores."""
    codes = [str(code) for code in items.ids]
    order = sorted(range(len(codes)), key=codes.__getitem__)
    matrix = VersionMatrix.of("", [codes[i] for i in order], np.asarray(items.vectors)[order])
    item_lists, user_lists = lists_expected(len(items), len(users), max_scores)
    return (matrix.ids, matrix.rank_by_cosine(range(len(matrix)), item_width) if item_lists else None,
            matrix.rank_by_inner_product(np.ascontiguousarray(users.vectors, dtype=np.float32), user_width)
            if user_lists else None)


def copy_lists(cur: psycopg.Cursor[Any], statement: sql.Composable, key_type: str, keys: Sequence[Any],
               lists: RankedLists | None, item_ids: Sequence[str]) -> None:
    """Binary COPY of (key, item codes, values, positions) rows from `RankedLists` (padding left out); nothing for
    lists left out."""
    if lists is None:
        return
    with cur.copy(statement) as copy:
        copy.set_types([key_type, "text[]", "float4[]", "int4[]"])
        for key, positions, values in zip(keys, lists.positions.tolist(), lists.values.tolist(), strict=True):
            count = next((i for i, p in enumerate(positions) if p < 0), len(positions))
            copy.write_row((key, [item_ids[p] for p in positions[:count]], values[:count], positions[:count]))


def load_version(
    conn: psycopg.Connection,
    version: str,
    items: EmbeddingsTable,
    users: EmbeddingsTable,
    *,
    source_uris: Mapping[str, str],
    metrics: Mapping[str, Any] | None = None,
    m: int = 16,
    ef_construction: int = 64,
    maintenance_work_mem: str = "256MB",
    max_list_scores: int = MAX_LIST_SCORES,
) -> LoadResult:
    """Load one version's embeddings into its own tables, in one transaction, without touching the live version.

    Steps: compute the neighbour lists (`neighbour_lists`, before the transaction), (re)create the tables, binary
    COPY items, users and the lists, primary keys, HNSW indexes on items (`vector_ip_ops`, `vector_cosine_ops`,
    with `m` / `ef_construction`), ANALYZE, record the version (not live).
    A version loaded before but not live is replaced; a live one raises `VersionIsLiveError`. Any error rolls
    everything back. `items` and `users` must share one dimension (1..2000, HNSW's limit).
    """
    ensure_schema(conn)
    dimension = items.dimension
    if not 1 <= dimension <= MAX_HNSW_DIMENSION:
        raise ValueError(f"dimension {dimension} outside 1..{MAX_HNSW_DIMENSION} (pgvector's HNSW limit)")
    if users.dimension != dimension:
        raise ValueError(f"dimensions differ: {dimension} for items, {users.dimension} for users")
    _check_table(items, "item", dimension)
    _check_table(users, "user", dimension)
    version_slug = slug(version)
    item_table = table_names(version_slug)[0]
    tables = version_identifiers(version_slug)
    timings: dict[str, float] = {}

    @contextmanager
    def timed(step: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        timings[step] = round(time.perf_counter() - start, 3)

    _register(conn)
    started = time.perf_counter()
    with timed("neighbour_lists"):
        ordered, neighbours, top_items = neighbour_lists(items, users, max_scores=max_list_scores)
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        known = {v["version"]: v for v in _versions(conn)}
        if known.get(version, {}).get("is_live"):
            raise VersionIsLiveError(f"{version} is live: it cannot be reloaded (swap another version in first)")
        clash = next((v for v in known.values() if v["slug"] == version_slug and v["version"] != version), None)
        if clash:  # needs a sha256 prefix collision; refuse rather than overwrite
            raise VectorStoreError(f"{version} and {clash['version']} share the table slug {version_slug}")
        cur.execute("SELECT set_config('maintenance_work_mem', %(mem)s, true)", {"mem": maintenance_work_mem})
        cur.execute(_composed("drop_embedding_tables.sql", **tables))
        cur.execute(_composed("create_embedding_tables.sql", **tables, dimension=sql.Literal(dimension)))
        with timed("copy_items"):
            copy_rows(cur, _composed("copy_item_embeddings.sql", **tables), ["text", "vector"], items.ids,
                      items.vectors)
        with timed("copy_users"):
            copy_rows(cur, _composed("copy_user_embeddings.sql", **tables), ["int4", "vector"], users.ids,
                      users.vectors)
        with timed("copy_lists"):
            copy_lists(cur, _composed("copy_item_neighbours.sql", **tables), "text", ordered, neighbours, ordered)
            copy_lists(cur, _composed("copy_user_top_items.sql", **tables), "int4", users.ids, top_items, ordered)
        with timed("primary_keys"):
            cur.execute(_composed("create_embedding_keys.sql", **tables))
        with timed("index_items_ip"):
            create_hnsw_index(cur, item_table, "vector_ip_ops", m=m, ef_construction=ef_construction)
        with timed("index_items_cosine"):
            create_hnsw_index(cur, item_table, "vector_cosine_ops", m=m, ef_construction=ef_construction)
        with timed("analyze"):
            cur.execute(_composed("analyze_embedding_tables.sql", **tables))
        timings["total"] = round(time.perf_counter() - started, 3)
        cur.execute(_query("insert_model_version.sql"), {
            "version": version, "slug": version_slug, "dimension": dimension, "item_count": len(items),
            "user_count": len(users), "source_uris": Jsonb(dict(source_uris)),
            "metrics": Jsonb(dict(metrics)) if metrics is not None else None, "timings": Jsonb(timings),
        })
        if cur.rowcount != 1:
            raise VersionIsLiveError(f"{version} went live while it was being reloaded; nothing changed")
    return LoadResult(version, version_slug, dimension, len(items), len(users), timings)


# --- going live ----------------------------------------------------------------------------------------------


def _lock(cur: psycopg.Cursor[Any], lock_timeout: str) -> None:
    """Serialise swaps, rollbacks and prunes; wait at most `lock_timeout` for any lock in this transaction."""
    cur.execute("SELECT set_config('lock_timeout', %(t)s, true)", {"t": lock_timeout})
    cur.execute("LOCK TABLE model_versions IN SHARE ROW EXCLUSIVE MODE")


def _swap(cur: psycopg.Cursor[Any], rows: Sequence[Mapping[str, Any]], version: str) -> None:
    """Point the views at `version` and move the live flag; the caller holds the transaction and the lock."""
    row = next((v for v in rows if v["version"] == version), None)
    if row is None:
        known = ", ".join(v["version"] for v in rows if v["pruned_at"] is None) or "none"
        raise UnknownVersionError(f"unknown model version {version!r}; loaded versions: {known}")
    if row["pruned_at"] is not None:
        raise UnknownVersionError(f"{version} was pruned at {row['pruned_at']:%Y-%m-%d %H:%M}Z: load it again first")
    cur.execute(_composed("replace_embedding_views.sql", **version_identifiers(row["slug"])))
    cur.execute(_query("unset_live_version.sql"), {"version": version})
    cur.execute(_query("set_live_version.sql"), {"version": version})


def swap_live(conn: psycopg.Connection, version: str, *, lock_timeout: str = "5s") -> None:
    """Make a loaded version live in one transaction: readers see the old version or this one, never neither.

    Raises `UnknownVersionError` (and changes nothing) for a version never loaded or pruned. Swapping the live
    version again re-creates its views (harmless, repairs them) and keeps its `went_live_at`.
    """
    _check_connection(conn)
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        _lock(cur, lock_timeout)
        _swap(cur, _versions(conn), version)


def rollback(conn: psycopg.Connection, to_version: str | None = None, *, lock_timeout: str = "5s") -> str:
    """Make an earlier version live again; returns the version now live.

    Default target: the not-pruned version that was live most recently before the current one (by
    `went_live_at`). Rolling back twice therefore goes back and forth between the last two live versions.
    """
    _check_connection(conn)
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        _lock(cur, lock_timeout)
        rows = _versions(conn)
        if to_version is None:
            target = _rollback_target(rows)
            if target is None:
                raise UnknownVersionError("no earlier live version to roll back to (never swapped, or pruned)")
            to_version = str(target["version"])
        _swap(cur, rows, to_version)
    return to_version


def prune(
    conn: psycopg.Connection,
    keep: int = 3,
    *,
    lock_timeout: str = "5s",
    retired_grace: float = serving_live.RETIRED_GRACE_SECONDS,
) -> list[str]:
    """Drop the tables of not-live versions beyond the newest `keep` (by load time); returns the pruned versions.

    Never prunes the live version, nor (when `keep` >= 1) the version `rollback()` would go back to, nor a
    version that stopped being live less than `retired_grace` seconds ago by the database clock (readers may
    still have it cached: `serving.live`); those are pruned by a later call. Pruned versions keep their
    `model_versions` row with `pruned_at` set.
    """
    _check_connection(conn)
    if keep < 0:
        raise ValueError(f"keep must be >= 0, got {keep}")
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        _lock(cur, lock_timeout)
        rows = _versions(conn)
        protected = _rollback_target(rows) if keep else None
        candidates = [v for v in rows if not v["is_live"] and v["pruned_at"] is None]
        pruned = [v for v in candidates[keep:] if v is not protected and _retired_long_enough(v, retired_grace)]
        for row in pruned:
            cur.execute(_composed("drop_embedding_tables.sql", **version_identifiers(row["slug"])))
            cur.execute(_query("update_pruned_version.sql"), {"version": row["version"]})
    return [str(v["version"]) for v in pruned]


def _retired_long_enough(row: Mapping[str, Any], grace: float) -> bool:
    """Never live, retired before `retired_at` was recorded, or retired more than `grace` seconds ago."""
    retired = row["retired_at"]
    return retired is None or (row["now"] - retired).total_seconds() >= grace


def verify_live(conn: psycopg.Connection, version: str, *, items: int, users: int, k: int = 5,
                max_list_scores: int = MAX_LIST_SCORES) -> dict[str, Any]:
    """Check what readers see: `version` is live, its tables hold `items` / `users` rows of its dimension and a
    neighbour list for each (of the kinds `lists_expected` for its size), the views for people follow it, and a
    similar-items query answers. Takes no lock a swap would wait for. Raises `VectorStoreError` naming every
    mismatch; returns the observations."""
    _check_connection(conn)
    serving_live.forget(conn)
    live = serving_live.resolve(conn)
    seen: dict[str, Any] = {}
    views: dict[str, str] = {}
    if live is not None:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            seen = cur.execute(sql.SQL(_query("select_live_table_counts.sql")).format(**live.identifiers())
                               ).fetchone() or {}
            views = {r["view_name"]: r["table_name"] for r in cur.execute(_query("select_view_tables.sql"))}
            if all(cur.execute(sql_text("select_list_tables.sql"), version_tables(live.slug)).fetchone().values()):
                seen |= cur.execute(sql.SQL(_query("select_live_list_counts.sql")).format(**live.identifiers())
                                    ).fetchone() or {}
    probe = seen.get("probe")
    neighbours = similar_items(conn, probe, k) if probe else []
    problems = []
    if live is None or live.version != version:
        problems.append(f"live version is {live and live.version!r}, expected {version!r}")
    if seen.get("items") != items or seen.get("users") != users:
        problems.append(f"live tables hold {seen.get('items')} items / {seen.get('users')} users, "
                        f"expected {items} / {users}")
    if live and "item_lists" not in seen:
        problems.append("the version has no neighbour lists (it is served by scans): load it again to compute them")
    elif live and (seen["item_lists"], seen["user_lists"]) != (expected := lists_expected(items, users,
                                                                                        max_list_scores)):
        problems.append(f"neighbour lists for {seen['item_lists']} items / {seen['user_lists']} users, expected "
                        f"{expected[0]} / {expected[1]}")
    if seen.get("misplaced_entries"):
        problems.append(f"{seen['misplaced_entries']} neighbour-list positions do not name the item their product "
                        "code names (the loader's code-point order differs from the database's COLLATE \"C\")")
    if live and {seen.get("item_dimension"), seen.get("user_dimension")} != {live.dimension}:
        problems.append(f"vectors of dimension {seen.get('item_dimension')}/{seen.get('user_dimension')}, "
                        f"model_versions says {live.dimension}")
    if live and views != {"item_embeddings": live.item_table, "user_embeddings": live.user_table}:
        problems.append(f"the views read {views}, not the live version's tables")
    if len(neighbours) != min(k, items - 1):
        problems.append(f"similar_items returned {len(neighbours)} rows, expected {min(k, items - 1)}")
    if problems:
        raise VectorStoreError(f"live model check failed: {'; '.join(problems)}")
    return {"version": version, "items": items, "users": users, "dimension": live.dimension if live else None,
            "probe": probe, "neighbours": len(neighbours)}


# --- queries (one request; the Lambdas batch them through dataplatform.serving) ------------------------------


def _read(conn: psycopg.Connection, candidates: int, **reads: Any) -> serving_queries.PendingReads | None:
    """The serving reads on the connection's live version (None when none is live)."""
    _check_connection(conn)
    if candidates > MAX_EF_SEARCH:
        raise ValueError(f"k plus excluded items is {candidates}, above HNSW's maximum ef_search {MAX_EF_SEARCH}")
    limits = serving_queries.ReadLimits(statement_timeout="0").at_least(candidates)
    return serving_live.on_live(conn, lambda live: serving_queries.read_batch(conn, live, limits=limits, **reads))


def similar_items(conn: psycopg.Connection, product_code: str, k: int = 10) -> list[tuple[str, float]]:
    """The `k` items nearest to `product_code` by cosine distance (itself excluded), nearest first, as
    (product_code, distance); [] for an unknown product or before any version is live."""
    pending = _read(conn, k + 1, similar_codes=[product_code], similar_limit=k)
    return pending.similar_answers().get(product_code, []) if pending else []


def _profile(conn: psycopg.Connection, customer_number: int | None, vector: np.ndarray | None, k: int,
             exclude: Sequence[str]) -> list[tuple[str, float]]:
    excluded = set(exclude)
    query = serving_queries.ProfileQuery(customer_number, vector, k + len(excluded))
    pending = _read(conn, query.limit, profiles=[query])
    answer = pending.profile_answers()[0] if pending else None
    if answer is None or (customer_number is not None and not answer.stored):
        return []
    return [(code, score) for code, score in answer.items if code not in excluded][:k]


def recommend_for_vector(
    conn: psycopg.Connection, vector: np.ndarray, k: int = 10, exclude: Sequence[str] = ()
) -> list[tuple[str, float]]:
    """The `k` items with the largest inner product with `vector` (a user vector of the live dimension), best
    first, as (product_code, score), leaving out `exclude`. Prefer `recommend_for_user` for a stored user: a
    vector read in an earlier call may belong to the version a swap just replaced."""
    return _profile(conn, None, np.asarray(vector, dtype=np.float32), k, exclude)


def recommend_for_user(
    conn: psycopg.Connection, customer_number: int, k: int = 10, exclude: Sequence[str] = ()
) -> list[tuple[str, float]]:
    """Like `recommend_for_vector` with the customer's stored vector, in one statement (one model version);
    [] for a customer without a stored vector."""
    return _profile(conn, customer_number, None, k, exclude)


def user_vector(conn: psycopg.Connection, customer_number: int) -> np.ndarray | None:
    """The customer's vector in the live version (float32), or None if it has none."""
    pending = _read(conn, 0, user_vectors=[customer_number])
    return pending.user_vector_answers().get(customer_number) if pending else None
