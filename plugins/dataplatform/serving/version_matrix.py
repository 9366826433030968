"""The live version's vectors in process: exact k-NN by NumPy, chosen over HNSW by measurement.

Why (`bench/results/serving_recall.md`, model-shaped vectors, HNSW m = 16, ef_construction = 64): HNSW's
recall@10 for "based on your profile" (inner product, `vector_ip_ops`) is 0.95 at pgvector's default ef_search
(40) and 0.99 at 160 with 10k items, but at 100k items 0.84 (40), 0.93 (160) and 0.97 (400, at 5x the time):
maximum inner product is a hard case for a graph index. An exact product over the item matrix in process has
recall 1.0 by construction, was faster per query than HNSW at 10k items (0.5 vs 3.2 ms at ef_search 160, batches
of 50) and at 100k as fast as HNSW at ef_search 100 (12 vs 10 ms) while HNSW stays below the recall target. With
the customers' vectors in memory as well, a request needs no database round trip at all between two checks of
the live version (`bench/results/serving.md`). Memory: 100k items and 100k customers of 33 dimensions are 13 MB
each (items twice: raw for inner product, unit length for cosine).

One `VersionMatrix` holds one version; the recommender loads it when that version goes live (at init, or in the
background after a swap: until it is loaded, that version is answered by the database's reads, never by another
version's matrix). Versions with more items than `ServingOptions.in_process_items` stay on HNSW; with more
customers than `in_process_users`, customers are looked up in the database (one round trip per batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from dataplatform.serving.live import LiveModel
from dataplatform.serving.queries import register_vector_types
from dataplatform.serving.sql_files import sql_text

CHUNK = 64
"""Query rows scored at once: bounds the score matrix (64 x 100k float32 = 25 MB)."""


@dataclass(frozen=True, eq=False)
class VersionMatrix:
    version: str
    ids: list[str]
    vectors: np.ndarray
    """(n, dimension) float32."""
    unit: np.ndarray
    """`vectors` scaled to unit length (cosine distance = 1 - unit . unit)."""
    index: dict[str, int]
    users: dict[int, np.ndarray] | None = None
    """customer_number -> vector, or None when the version has too many customers to hold."""

    @classmethod
    def load(cls, conn: psycopg.Connection, live: LiveModel, *, max_users: int) -> VersionMatrix:
        """Read the version's item table and, if it has at most `max_users`, its user table (plain scans; a
        non-autocommit connection is left idle)."""
        register_vector_types(conn)
        with conn.transaction(), conn.cursor(row_factory=tuple_row, binary=True) as cur:
            items = cur.execute(sql.SQL(sql_text("select_item_vectors.sql")).format(**live.identifiers())).fetchall()
            users = None
            if live.user_count <= max_users:
                rows = cur.execute(sql.SQL(sql_text("select_user_vectors_all.sql")).format(**live.identifiers()))
                users = {int(c): np.asarray(v, dtype=np.float32) for c, v in rows}
        vectors = np.asarray([v for _, v in items], dtype=np.float32).reshape(len(items), live.dimension)
        return cls.of(live.version, [str(code) for code, _ in items], vectors, users)

    @classmethod
    def of(cls, version: str, ids: list[str], vectors: np.ndarray,
           users: dict[int, np.ndarray] | None = None) -> VersionMatrix:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.where(norms > 0, norms, 1.0)
        return cls(version, ids, vectors, unit.astype(np.float32), {code: i for i, code in enumerate(ids)}, users)

    def __len__(self) -> int:
        return len(self.ids)

    def best_by_inner_product(self, queries: np.ndarray, limits: Sequence[int]) -> list[list[tuple[str, float]]]:
        """For each query vector, its `limit` items with the largest inner product, best first, with scores."""
        out: list[list[tuple[str, float]]] = []
        for start in range(0, len(queries), CHUNK):
            chunk_limits = list(limits[start:start + CHUNK])
            scores = queries[start:start + CHUNK] @ self.vectors.T
            out += self._smallest(-scores, chunk_limits, sign=-1.0)
        return out

    def nearest_by_cosine(self, codes: Sequence[str], limit: int) -> dict[str, list[tuple[str, float]]]:
        """For each known product, its `limit` nearest items by cosine distance, itself left out."""
        known = [code for code in codes if code in self.index]
        out: dict[str, list[tuple[str, float]]] = {}
        for start in range(0, len(known), CHUNK):
            chunk = known[start:start + CHUNK]
            rows = [self.index[c] for c in chunk]
            distances = 1.0 - self.unit[rows] @ self.unit.T
            distances[np.arange(len(rows)), rows] = np.inf
            out.update(zip(chunk, self._smallest(distances, [limit] * len(chunk), sign=1.0), strict=True))
        return out

    def _smallest(self, keys: np.ndarray, limits: list[int], *, sign: float) -> list[list[tuple[str, float]]]:
        """Per row of `keys`, its `limit` smallest entries ascending, as (id, sign * key); infinite keys left out."""
        widest = min(max(limits, default=0), keys.shape[1])
        if widest <= 0:
            return [[] for _ in limits]
        if widest < keys.shape[1]:
            picked = np.argpartition(keys, widest - 1, axis=1)[:, :widest]
        else:
            picked = np.broadcast_to(np.arange(keys.shape[1]), keys.shape).copy()
        values = np.take_along_axis(keys, picked, axis=1)
        order = np.argsort(values, axis=1, kind="stable")
        picked, values = np.take_along_axis(picked, order, axis=1), np.take_along_axis(values, order, axis=1)
        finite = np.isfinite(values)
        ids = self.ids
        return [[(ids[i], sign * float(v)) for i, v, ok in zip(p[:limit], vs[:limit], f[:limit], strict=True) if ok]
                for p, vs, f, limit in zip(picked.tolist(), values.tolist(), finite.tolist(), limits, strict=True)]
