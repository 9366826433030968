"""Fixtures for the serving tests on the real PostgreSQL + pgvector and moto of the local stack.

Each test gets its own schema (first on the search_path, `public` after it for `vector`), dropped afterwards,
and its own S3 bucket, emptied and deleted afterwards. Model versions are loaded with the real loader
(`dataplatform.vectordb.store`: tests may import it, the serving package may not).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import boto3
import numpy as np
import psycopg
import pytest

from dataplatform.batch import popular_products
from dataplatform.model.cold_start import UserFeatureModel
from dataplatform.vectordb import store
from dataplatform.vectordb.embeddings_file import EmbeddingsTable

CITIES = [("Madrid", "Spain"), ("Barcelona", "Spain"), ("Paris", "France"), ("Lyon", "France"), ("NYC", "USA"),
          ("Boston", "USA")]


@pytest.fixture
def loader(conninfo: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        store.ensure_schema(conn)
        yield conn


@pytest.fixture(scope="session")
def s3(local_stack):
    return boto3.client("s3")


@pytest.fixture
def bucket(s3) -> Iterator[str]:
    name = f"test-serving-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_DEFAULT_REGION"]})
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def product_codes(n: int) -> list[str]:
    return [f"S{10 + i // 1000}_{i % 1000:04d}" for i in range(n)]


@dataclass(frozen=True)
class Model:
    """A loaded model version: what it holds, to compute the expected answers with NumPy."""

    version: str
    items: EmbeddingsTable
    users: EmbeddingsTable
    features: UserFeatureModel | None

    def vector_of(self, customer: int) -> np.ndarray:
        return self.users.vectors[self.users.ids.index(customer)]

    def exact_top(self, vector: np.ndarray, k: int, exclude: set[str] = frozenset()) -> list[str]:
        scores = self.items.vectors @ vector
        return [self.items.ids[i] for i in np.argsort(-scores) if self.items.ids[i] not in exclude][:k]

    def exact_similar(self, code: str, k: int, exclude: set[str] = frozenset()) -> list[str]:
        unit = self.items.vectors / np.linalg.norm(self.items.vectors, axis=1, keepdims=True)
        distances = 1 - unit @ unit[self.items.ids.index(code)]
        return [self.items.ids[i] for i in np.argsort(distances)
                if self.items.ids[i] != code and self.items.ids[i] not in exclude][:k]


def load_model(conn: psycopg.Connection, version: str, *, n_items: int = 400, dim: int = 8, seed: int = 0,
               s3=None, bucket: str | None = None, with_features: bool = True, live: bool = True,
               extra_codes: tuple[str, ...] = ()) -> Model:
    """Load a version (items `product_codes(n_items)` + `extra_codes`, customers 100..159, one city each) and,
    given a bucket, publish its user-feature model beside its (pretend) embedding files at
    s3://<bucket>/models/<version>/."""
    rng = np.random.default_rng(seed)
    ids = product_codes(n_items) + list(extra_codes)
    n_items = len(ids)
    items = EmbeddingsTable("item", ids, rng.standard_normal((n_items, dim)).astype(np.float32),
                            np.arange(2, n_items + 2), dim, "item_embeddings.csv")
    customers = list(range(100, 160))
    users = EmbeddingsTable("user", customers, rng.standard_normal((len(customers), dim)).astype(np.float32),
                            np.arange(2, len(customers) + 2), dim, "user_embeddings.csv")
    features = None
    uris = {}
    if bucket is not None:
        prefix = f"models/{version}/"
        uris = {"item_embeddings.csv": f"s3://{bucket}/{prefix}item_embeddings.csv"}
        if with_features:
            cities = [CITIES[c % len(CITIES)] for c in customers]
            features = UserFeatureModel.fit([c for c, _ in cities], [k for _, k in cities],
                                            [10_000.0 * (c % 7) for c in customers], users.vectors,
                                            min_users_per_city=1)
            description, arrays = features.to_files()
            s3.put_object(Bucket=bucket, Key=prefix + "user_feature_model.json", Body=description)
            s3.put_object(Bucket=bucket, Key=prefix + "user_feature_model.npz", Body=arrays)
    store.load_version(conn, version, items, users, source_uris=uris)
    if live:
        store.swap_live(conn, version)
    return Model(version, items, users, features)


def publish_popular(conn: psycopg.Connection, ranking: dict[str, list[str]]) -> None:
    """Publish a popular-products table with the real batch code: `ranking` = country -> codes, best first."""
    rows = []
    for country, codes in ranking.items():
        for rank, code in enumerate(codes):
            rows.append(popular_products.Popularity(country, code, 100 - rank, 100 - rank, 100 - rank))
    popular_products.publish(conn, rows, date(2026, 11, 23))


def event(customer: int = 101, history: list[tuple[str, bool]] = (), city: str = "Madrid", country: str = "Spain",
          credit_limit: float | None = 50_000.0, session: str = "s-1") -> dict:
    return {"session_id": session, "customer_number": customer, "city": city, "country": country,
            "credit_limit": credit_limit,
            "browse_history": [{"product_code": c, "quantity": "1", "in_shopping_cart": cart} for c, cart in history]}
