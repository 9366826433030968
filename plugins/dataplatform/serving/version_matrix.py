"""The live version's vectors and neighbour lists in process: exact k-NN, chosen over HNSW by measurement.

Why (`bench/results/serving_recall.md`, model-shaped vectors, HNSW m = 16, ef_construction = 64): HNSW's
recall@10 for "based on your profile" (inner product, `vector_ip_ops`) is 0.95 at pgvector's default ef_search
(40) and 0.99 at 160 with 10k items, but at 100k items 0.84 (40), 0.93 (160) and 0.97 (400, at 5x the time):
maximum inner product is a hard case for a graph index. An exact product over the item matrix in process has
recall 1.0 by construction, was faster per query than HNSW at 10k items (0.5 vs 3.2 ms at ef_search 160, batches
of 50) and at 100k as fast as HNSW at ef_search 100 (12 vs 10 ms) while HNSW stays below the recall target. With
the customers' vectors in memory as well, a request needs no database round trip at all between two checks of
the live version (`bench/results/serving.md`). Memory: 100k items and 100k customers of 33 dimensions are 13 MB
each (items twice: raw for inner product, unit length for cosine).

**Neighbour lists.** Most of that product is the same for every request: a version's items and stored customers
never change while it is live. So the loader computes, once per version and exactly (the scans below, chunked),
each item's `ITEM_NEIGHBOURS` nearest items and each stored customer's `USER_TOP_ITEMS` best items
(`item_neighbours__<slug>`, `user_top_items__<slug>`), and a request for a stored customer or a known product is a
lookup in those lists, recall 1.0 at O(1) (at 100k items, the scan cost ~8 ms of CPU per request and the lookup
costs ~0.05 ms: `bench/results/serving.md`). The scans remain for what a list cannot answer: a customer answered
by the user-feature model (a vector made per request), more items than a list holds (a long cart, a larger `k`),
and a version loaded without the lists. Memory: 8 bytes per list entry, 26 MB for 100k items' lists and 400 bytes
per stored customer held (`in_process_users`).

One `VersionMatrix` holds one version; the recommender loads it when that version goes live (at init, or in the
background after a swap: until it is loaded, that version is answered by the database's reads, never by another
version's matrix). Versions with more items than `ServingOptions.in_process_items` stay on HNSW; with more
customers than `in_process_users`, customers are looked up in the database (one round trip per batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from dataplatform.serving.live import LiveModel, version_tables
from dataplatform.serving.queries import register_vector_types
from dataplatform.serving.sql_files import sql_text

CHUNK = 64
"""Query rows scored at once: bounds the score matrix (64 x 100k float32 = 25 MB)."""
ITEM_NEIGHBOURS = 32
"""Nearest items kept per item (the recommender needs similar_k + max_similar_sources = 15 by default)."""
USER_TOP_ITEMS = 50
"""Best items kept per stored customer: k = 10 with a cart of up to 40 items left out."""


@dataclass(frozen=True, eq=False)
class RankedLists:
    """Per row, the best items of a ranking computed once per version, best first: their positions in the
    version's item list and their values (inner product or cosine distance); short rows end in position -1."""

    positions: np.ndarray
    """(rows, width) int32."""
    values: np.ndarray
    """(rows, width) float32."""

    @property
    def width(self) -> int:
        return int(self.positions.shape[1])

    def rows(self, rows: Sequence[int], ids: Sequence[str], limits: Sequence[int]) -> list[list[tuple[str, float]]]:
        """Rows `rows` as (item id, value) lists, each cut to its limit (one NumPy read for all of them)."""
        widest = max(limits, default=0)
        positions, values = self.positions[rows, :widest].tolist(), self.values[rows, :widest].tolist()
        return [[(ids[p], v) for p, v in zip(ps[:limit], vs[:limit], strict=True) if p >= 0]
                for ps, vs, limit in zip(positions, values, limits, strict=True)]

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[Sequence[int], Sequence[float]]]) -> RankedLists:
        """From the tables' (positions, values) arrays (one NumPy conversion when every row is as long, as the
        loader writes them: 2M entries in well under a second)."""
        widths = {len(p) for p, _ in rows}
        if len(widths) <= 1:
            width = widths.pop() if widths else 0
            return cls(np.array([p for p, _ in rows], dtype=np.int32).reshape(len(rows), width),
                       np.array([v for _, v in rows], dtype=np.float32).reshape(len(rows), width))
        positions = np.full((len(rows), max(widths)), -1, dtype=np.int32)
        values = np.full((len(rows), max(widths)), np.nan, dtype=np.float32)
        for i, (p, v) in enumerate(rows):
            positions[i, :len(p)], values[i, :len(v)] = p, v
        return cls(positions, values)


@dataclass(frozen=True, eq=False)
class VersionMatrix:
    version: str
    ids: list[str]
    """Loaded in product_code order by code point (`ORDER BY product_code COLLATE "C"`, Python's `sorted`): the
    order the stored lists' positions refer to."""
    vectors: np.ndarray
    """(n, dimension) float32."""
    unit: np.ndarray
    """`vectors` scaled to unit length (cosine distance = 1 - unit . unit)."""
    index: dict[str, int]
    users: dict[int, np.ndarray] | None = None
    """customer_number -> vector, or None when the version has too many customers to hold."""
    neighbours: RankedLists | None = None
    """Row i: item i's nearest items by cosine distance, itself left out (`item_neighbours__<slug>`)."""
    top_items: RankedLists | None = None
    """The stored customers' best items by inner product (`user_top_items__<slug>`), rows by `top_rows`."""
    top_rows: dict[int, int] | None = None

    @classmethod
    def load(cls, conn: psycopg.Connection, live: LiveModel, *, max_users: int, lists: bool = True) -> VersionMatrix:
        """Read the version's item table, its neighbour lists (unless `lists` is False) and, if it has at most
        `max_users`, its user table and their best items (plain scans of tables no one modifies; a non-autocommit
        connection is left idle)."""
        register_vector_types(conn)
        with conn.transaction(), conn.cursor(row_factory=tuple_row, binary=True) as cur:
            def rows(name: str) -> list[tuple]:
                return cur.execute(sql.SQL(sql_text(name)).format(**live.identifiers())).fetchall()

            items = rows("select_item_vectors.sql")
            has_neighbours, has_top_items = (cur.execute(sql_text("select_list_tables.sql"),
                                                          version_tables(live.slug)).fetchone() or (False, False)) \
                if lists else (False, False)
            neighbour_rows = rows("select_item_neighbours.sql") if has_neighbours else None
            users = top_rows = None
            if live.user_count <= max_users:
                users = {int(c): np.asarray(v, dtype=np.float32) for c, v in rows("select_user_vectors_all.sql")}
                top_rows = rows("select_user_top_items.sql") if has_top_items else None
        vectors = np.asarray([v for _, v in items], dtype=np.float32).reshape(len(items), live.dimension)
        matrix = cls.of(live.version, [str(code) for code, _ in items], vectors, users)
        if neighbour_rows is not None and [str(code) for code, _, _ in neighbour_rows] == matrix.ids:
            matrix = replace(matrix, neighbours=RankedLists.from_rows([(p, d) for _, p, d in neighbour_rows]))
        if top_rows:
            matrix = replace(matrix, top_items=RankedLists.from_rows([(p, s) for _, p, s in top_rows]),
                             top_rows={int(customer): i for i, (customer, _, _) in enumerate(top_rows)})
        return matrix

    @classmethod
    def of(cls, version: str, ids: list[str], vectors: np.ndarray,
           users: dict[int, np.ndarray] | None = None) -> VersionMatrix:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.where(norms > 0, norms, 1.0)
        return cls(version, ids, vectors, unit.astype(np.float32), {code: i for i, code in enumerate(ids)}, users)

    def __len__(self) -> int:
        return len(self.ids)

    # --- answers: from the lists where they hold enough, else exact scans ----------------------------------------

    def has_neighbours(self, limit: int) -> bool:
        return self.neighbours is not None and limit <= self.neighbours.width

    def stored_best(self, wanted: Sequence[tuple[int, int]]) -> dict[int, list[tuple[str, float]]]:
        """For (customer_number, limit) pairs, the customers' best items from the lists, by position in `wanted`;
        pairs the lists cannot answer (no list for the customer, a limit beyond the list) are left out."""
        lists, rows = self.top_items, self.top_rows
        if lists is None or rows is None:
            return {}
        answerable = [(i, rows[c], limit) for i, (c, limit) in enumerate(wanted) if c in rows and limit <= lists.width]
        found = lists.rows([r for _, r, _ in answerable], self.ids, [limit for _, _, limit in answerable])
        return {i: items for (i, _, _), items in zip(answerable, found, strict=True)}

    def best_by_inner_product(self, queries: np.ndarray, limits: Sequence[int]) -> list[list[tuple[str, float]]]:
        """For each query vector, its `limit` items with the largest inner product, best first, with scores."""
        ranked = self.rank_by_inner_product(queries, max(limits, default=0))
        return ranked.rows(range(len(limits)), self.ids, limits)

    def nearest_by_cosine(self, codes: Sequence[str], limit: int) -> dict[str, list[tuple[str, float]]]:
        """For each known product, its `limit` nearest items by cosine distance, itself left out."""
        known = [code for code in codes if code in self.index]
        rows = [self.index[c] for c in known]
        lists = self.neighbours if self.has_neighbours(limit) else self.rank_by_cosine(rows, limit)
        picked = rows if lists is self.neighbours else range(len(rows))
        return dict(zip(known, lists.rows(picked, self.ids, [limit] * len(known)), strict=True))

    # --- the exact scans (also what the loader computes the lists with) -----------------------------------------

    def rank_by_inner_product(self, queries: np.ndarray, width: int) -> RankedLists:
        """For each query vector, its `width` items with the largest inner product (value: the product)."""
        parts = [self._best(-(queries[start:start + CHUNK] @ self.vectors.T), width, sign=-1.0)
                 for start in range(0, len(queries), CHUNK)]
        return _stacked(parts, width)

    def rank_by_cosine(self, rows: Sequence[int], width: int) -> RankedLists:
        """For each item row, its `width` nearest items by cosine distance, itself left out (value: the distance)."""
        parts = []
        for start in range(0, len(rows), CHUNK):
            chunk = list(rows[start:start + CHUNK])
            distances = 1.0 - self.unit[chunk] @ self.unit.T
            distances[np.arange(len(chunk)), chunk] = np.inf
            parts.append(self._best(distances, width, sign=1.0))
        return _stacked(parts, width)

    def _best(self, keys: np.ndarray, width: int, *, sign: float) -> RankedLists:
        """Per row of `keys`, its `width` smallest finite entries ascending, as positions and sign * key."""
        rows, n = keys.shape
        width = max(0, width)
        take = min(width, n)
        if take == 0:
            return RankedLists(np.full((rows, width), -1, np.int32), np.full((rows, width), np.nan, np.float32))
        picked = np.argpartition(keys, take - 1, axis=1)[:, :take] if take < n else \
            np.broadcast_to(np.arange(n), keys.shape).copy()
        values = np.take_along_axis(keys, picked, axis=1)
        order = np.argsort(values, axis=1, kind="stable")
        picked, values = np.take_along_axis(picked, order, axis=1), np.take_along_axis(values, order, axis=1)
        positions = np.full((rows, width), -1, np.int32)
        out = np.full((rows, width), np.nan, np.float32)
        finite = np.isfinite(values)
        positions[:, :take] = np.where(finite, picked, -1)
        out[:, :take] = np.where(finite, sign * values, np.nan)
        return RankedLists(positions, out)


def _stacked(parts: list[RankedLists], width: int) -> RankedLists:
    if not parts:
        return RankedLists(np.empty((0, width), np.int32), np.empty((0, width), np.float32))
    return RankedLists(np.concatenate([p.positions for p in parts]), np.concatenate([p.values for p in parts]))
