"""The live version's item vectors in process: exact k-NN by NumPy, chosen over HNSW by measurement.

Why (`bench/results/serving_recall.md`, model-shaped vectors, HNSW m = 16, ef_construction = 64): HNSW's
recall@10 for "based on your profile" (inner product, `vector_ip_ops`) is 0.95 at pgvector's default ef_search
(40) and 0.99 at 160 with 10k items, but at 100k items 0.84 (40), 0.93 (160) and 0.97 (400, at 5x the time):
maximum inner product is a hard case for a graph index. An exact product over the item matrix in process has
recall 1.0 by construction, was faster per query than HNSW at 10k items (0.5 vs 3.2 ms at ef_search 160, batches
of 50) and at 100k as fast as HNSW at ef_search 100 (12 vs 10 ms) while HNSW stays below the recall target, and a
batch needs one round trip (the customers' stored vectors) instead of one index scan per query. The matrix of a
100k-item, 33-dim catalogue is 13 MB (26 MB with the unit-length copy for cosine).

One `ItemMatrix` holds one version; the recommender loads it when that version goes live (at init, or in the
background after a swap: until it is loaded, that version is answered by the HNSW reads, never by another
version's matrix). Versions above `ServingOptions.in_process_items` items stay on HNSW.
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
class ItemMatrix:
    version: str
    ids: list[str]
    vectors: np.ndarray
    """(n, dimension) float32."""
    unit: np.ndarray
    """`vectors` scaled to unit length (cosine distance = 1 - unit . unit)."""
    index: dict[str, int]

    @classmethod
    def load(cls, conn: psycopg.Connection, live: LiveModel) -> ItemMatrix:
        """Read the version's item table (one scan; a non-autocommit connection is left idle)."""
        register_vector_types(conn)
        query = sql.SQL(sql_text("select_item_vectors.sql")).format(**live.identifiers())
        with conn.transaction(), conn.cursor(row_factory=tuple_row, binary=True) as cur:
            rows = cur.execute(query).fetchall()
        return cls.of(live.version, [str(code) for code, _ in rows],
                      np.asarray([vector for _, vector in rows], dtype=np.float32).reshape(len(rows), live.dimension))

    @classmethod
    def of(cls, version: str, ids: list[str], vectors: np.ndarray) -> ItemMatrix:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.where(norms > 0, norms, 1.0)
        return cls(version, ids, vectors, unit.astype(np.float32), {code: i for i, code in enumerate(ids)})

    def __len__(self) -> int:
        return len(self.ids)

    def best_by_inner_product(self, queries: np.ndarray, limits: Sequence[int]) -> list[list[tuple[str, float]]]:
        """For each query vector, its `limit` items with the largest inner product, best first, with scores."""
        out: list[list[tuple[str, float]]] = []
        for start in range(0, len(queries), CHUNK):
            scores = queries[start:start + CHUNK] @ self.vectors.T
            out += [self._top(row, -row, limit) for row, limit in zip(scores, limits[start:start + CHUNK],
                                                                       strict=True)]
        return out

    def nearest_by_cosine(self, codes: Sequence[str], limit: int) -> dict[str, list[tuple[str, float]]]:
        """For each known product, its `limit` nearest items by cosine distance, itself left out."""
        known = [code for code in codes if code in self.index]
        out: dict[str, list[tuple[str, float]]] = {}
        for start in range(0, len(known), CHUNK):
            chunk = known[start:start + CHUNK]
            distances = 1.0 - self.unit[[self.index[c] for c in chunk]] @ self.unit.T
            for code, row in zip(chunk, distances, strict=True):
                row[self.index[code]] = np.inf
                out[code] = self._top(row, row, limit)
        return out

    def _top(self, values: np.ndarray, keys: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """The `limit` smallest `keys`, ascending, as (id, value)."""
        limit = min(limit, len(keys))
        if limit <= 0:
            return []
        picked = np.argpartition(keys, limit - 1)[:limit] if limit < len(keys) else np.arange(len(keys))
        picked = picked[np.argsort(keys[picked], kind="stable")]
        return [(self.ids[i], float(values[i])) for i in picked if np.isfinite(keys[i])]
