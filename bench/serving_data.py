"""Model-shaped embeddings for the serving benchmarks, loaded as a live model version by the real loader.

The reference model publishes `item = [q_i, c_i]` and `user = [p_u, 1]` (`dataplatform.model`): "based on your
profile" is the largest inner product, "similar" the cosine between item vectors. Here `q_i` are clustered
32-dim vectors (`vector_load.clustered_vectors`, one cluster per ~100 products: products of a kind sit
together), `c_i` ~ N(0, 0.5) an item bias, and `p_u` a point of the same distribution scaled by 0.1 (a user
near the kinds of product they like), so the bias matters against the taste term as it does in the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg
from vector_load import clustered_vectors

from dataplatform.vectordb import store
from dataplatform.vectordb.embeddings_file import EmbeddingsTable

DIMENSION = 32
USERS = 2_000


@dataclass(frozen=True)
class BenchModel:
    version: str
    item_ids: list[str]
    items: np.ndarray  # (n, 33) float32
    user_ids: list[int]
    users: np.ndarray  # (USERS, 33) float32

    def exact_profile(self, vector: np.ndarray, k: int, exclude: set[str] = frozenset()) -> list[str]:
        scores = self.items.astype(np.float64) @ vector.astype(np.float64)
        top = np.argpartition(-scores, k + len(exclude))[: k + len(exclude)]
        ranked = [self.item_ids[i] for i in top[np.argsort(-scores[top])]]
        return [c for c in ranked if c not in exclude][:k]

    def exact_similar(self, code: str, k: int) -> list[str]:
        unit = self.items.astype(np.float64)
        unit /= np.linalg.norm(unit, axis=1, keepdims=True)
        distances = 1 - unit @ unit[self.item_ids.index(code)]
        top = np.argpartition(distances, k + 1)[: k + 1]
        return [self.item_ids[i] for i in top[np.argsort(distances[top])] if self.item_ids[i] != code][:k]


def product_codes(n: int) -> list[str]:
    return [f"B{i // 10000:02d}_{i % 10000:04d}" for i in range(n)]


def model(n_items: int, seed: int = 0, version: str | None = None) -> BenchModel:
    rng = np.random.default_rng(seed + 17)
    clusters = max(10, n_items // 100)
    q = clustered_vectors(n_items, DIMENSION, clusters=clusters, seed=seed, centre_seed=seed)
    c = rng.normal(0.0, 0.5, (n_items, 1)).astype(np.float32)
    p = 0.1 * clustered_vectors(USERS, DIMENSION, clusters=clusters, spread=0.7, seed=seed + 1, centre_seed=seed)
    users = np.hstack([p, np.ones((USERS, 1), dtype=np.float32)])
    return BenchModel(version or f"bench-{n_items}-{seed}", product_codes(n_items), np.hstack([q, c]),
                      list(range(1, USERS + 1)), users)


def load(conn: psycopg.Connection, bench: BenchModel, *, live: bool = True) -> dict[str, float]:
    """Load with the real loader (binary COPY, HNSW m = 16, ef_construction = 64, both indexes); its timings."""
    dim = bench.items.shape[1]
    items = EmbeddingsTable("item", bench.item_ids, bench.items, np.arange(len(bench.item_ids)), dim, "items")
    users = EmbeddingsTable("user", bench.user_ids, bench.users, np.arange(len(bench.user_ids)), dim, "users")
    store.ensure_schema(conn)
    result = store.load_version(conn, bench.version, items, users, source_uris={})
    if live:
        store.swap_live(conn, bench.version)
    return result.timings
