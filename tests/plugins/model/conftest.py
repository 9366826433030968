"""A synthetic training snapshot with planted structure, and the reference model trained on it once per session.

The synthetic snapshot mimics the exported training set: customers in a few countries whose tastes
depend on the country, products in product lines whose factors depend on the line, purchases driven
by taste and popularity, and ratings driven by taste and product quality (rank-4 truth).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from dataplatform.model.training import TrainedModel, train

CITIES = {
    "USA": ["NYC", "San Francisco", "Boston"],
    "France": ["Paris", "Nantes", "Lyon"],
    "Spain": ["Madrid", "Barcelona"],
    "Japan": ["Tokyo", "Osaka"],
}


def synthetic_snapshot(n_users: int = 300, n_items: int = 110, rank: int = 4, seed: int = 7) -> pa.Table:
    """A training snapshot (the export's columns) with a planted rank-`rank` structure."""
    rng = np.random.default_rng(seed)
    countries = list(CITIES)
    country_of_user = rng.integers(0, len(countries), n_users)
    users = rng.normal(0, 1.0, (len(countries), rank))[country_of_user] + rng.normal(0, 0.7, (n_users, rank))
    line_of_item = rng.integers(0, 7, n_items)
    items = rng.normal(0, 0.8, (7, rank))[line_of_item] + rng.normal(0, 0.8, (n_items, rank))
    popularity, quality = rng.normal(0, 0.5, n_items), rng.normal(0, 0.4, n_items)
    affinity = users @ items.T
    affinity = (affinity - affinity.mean()) / affinity.std()
    rows = []
    for u in range(n_users):
        choice = 1.5 * affinity[u] + popularity + rng.gumbel(size=n_items)
        for i in np.argsort(-choice)[: rng.integers(5, 20)]:
            rating = np.clip(np.rint(3.2 + affinity[u, i] + quality[i] + rng.normal(0, 0.5)), 1, 5)
            rows.append((u, i, int(rating)))
    u, i, rating = (np.array(column) for column in zip(*rows, strict=True))
    city_of_user = [
        CITIES[countries[c]][n % len(CITIES[countries[c]])] for n, c in enumerate(country_of_user)
    ]
    credit = np.round(np.exp(rng.normal(11, 0.6, n_users)), -2)
    return pa.table(
        {
            "customerNumber": pa.array(100 + u, pa.int32()),
            "city": [city_of_user[x] for x in u],
            "state": pa.nulls(len(u), pa.string()),
            "postalCode": ["75001"] * len(u),
            "country": [countries[country_of_user[x]] for x in u],
            "creditLimit": pa.array(credit[u]).cast(pa.decimal128(10, 2)),
            "productCode": [f"S{10 + x % 40}_{1000 + x}" for x in i],
            "productLine": [f"Line {line_of_item[x]}" for x in i],
            "productScale": ["1:18"] * len(u),
            "quantityInStock": pa.array(np.full(len(u), 100), pa.int16()),
            "buyPrice": pa.array(np.full(len(u), 50.0)),
            "MSRP": pa.array(np.full(len(u), 90.0)),
            "productRating": pa.array(rating, pa.int32()),
        }
    )


@pytest.fixture(scope="session")
def snapshot() -> pa.Table:
    return synthetic_snapshot()


@pytest.fixture(scope="session")
def model(snapshot: pa.Table) -> TrainedModel:
    return train(snapshot, dimension=32, seed=0)
