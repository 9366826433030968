"""Served k-NN quality at 10k items: recall@10 of what the recommender answers against an exact scan (the 100k
measurement, per ef_search, is `bench/serving_recall.py`)."""

from __future__ import annotations

import numpy as np
import pytest

from dataplatform.serving.models import UserActivityEvent
from dataplatform.serving.queries import EF_SEARCH
from dataplatform.serving.recommender import Recommender, ServingOptions
from dataplatform.vectordb import store
from dataplatform.vectordb.embeddings_file import EmbeddingsTable

pytestmark = pytest.mark.stack
N_ITEMS, N_USERS, DIM, QUERIES = 10_000, 500, 32, 150


def model_shaped(seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Like the reference model's vectors: items [q, c] around 100 product-kind centres plus a bias, users
    [0.1 p, 1] near the kinds they like (see bench/serving_data.py)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((N_ITEMS // 100, DIM))
    q = centres[rng.integers(0, len(centres), N_ITEMS)] + 0.5 * rng.standard_normal((N_ITEMS, DIM))
    items = np.hstack([q, rng.normal(0, 0.5, (N_ITEMS, 1))]).astype(np.float32)
    p = centres[rng.integers(0, len(centres), N_USERS)] + 0.7 * rng.standard_normal((N_USERS, DIM))
    users = np.hstack([0.1 * p, np.ones((N_USERS, 1))]).astype(np.float32)
    return [f"R{i // 1000:02d}_{i % 1000:04d}" for i in range(N_ITEMS)], items, users


@pytest.fixture
def ten_thousand(loader) -> tuple[list[str], np.ndarray, np.ndarray]:
    ids, items, users = model_shaped()
    store.load_version(loader, "v10k", EmbeddingsTable("item", ids, items, np.arange(N_ITEMS), DIM + 1, "i"),
                       EmbeddingsTable("user", list(range(1, N_USERS + 1)), users, np.arange(N_USERS), DIM + 1, "u"),
                       source_uris={})
    store.swap_live(loader, "v10k")
    return ids, items, users


@pytest.mark.parametrize(("in_process_items", "lists"), [(200_000, True), (200_000, False), (0, False)],
                         ids=["lists", "in_process", "hnsw"])
def test_recall_at_10_is_at_least_098_for_both_queries(conninfo, ten_thousand, in_process_items, lists) -> None:
    # GIVEN 10k model-shaped items, and events of stored customers each browsing one product
    ids, items, users = ten_thousand
    rng = np.random.default_rng(1)
    customers = rng.choice(N_USERS, QUERIES, replace=False)
    browsed = rng.choice(N_ITEMS, QUERIES, replace=False)
    events = [UserActivityEvent.model_validate({
        "session_id": f"s-{i}", "customer_number": int(c) + 1, "city": "Madrid", "country": "Spain",
        "credit_limit": None, "browse_history": [{"product_code": ids[b], "quantity": "1", "in_shopping_cart": False}],
    }) for i, (c, b) in enumerate(zip(customers, browsed, strict=True))]
    recommender = Recommender(conninfo, options=ServingOptions(deadline_seconds=30, budget_seconds=30, similar_k=10,
                                                               in_process_items=in_process_items,
                                                               neighbour_lists=lists))
    recommender.warm()
    # WHEN the recommender answers them
    records = recommender.recommend_batch(events, deadline_seconds=30)
    # THEN its profile items and similar items hold >= 98% of the exact 10 best
    unit = items / np.linalg.norm(items, axis=1, keepdims=True)
    recall_profile, recall_similar = [], []
    for record, c, b in zip(records, customers, browsed, strict=True):
        exact = {ids[i] for i in np.argsort(-(items.astype(np.float64) @ users[c]))[:10]}
        recall_profile.append(len(exact & {r.id for r in record.recommended_items}) / 10)
        distances = 1 - unit.astype(np.float64) @ unit[b]
        distances[b] = np.inf
        exact = {ids[i] for i in np.argsort(distances)[:10]}
        recall_similar.append(len(exact & {s.id for s in record.similar_items[0].similar_items}) / 10)
    way = "neighbour lists" if lists else "scans in process" if in_process_items else f"HNSW ef_search {EF_SEARCH}"
    print(f"{way}: recall@10 profile "
          f"{np.mean(recall_profile):.3f}, similar {np.mean(recall_similar):.3f}")
    assert np.mean(recall_profile) >= 0.98 and np.mean(recall_similar) >= 0.98
