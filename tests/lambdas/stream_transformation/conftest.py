"""Fixtures for the Firehose transformation: a vector DB schema of its own with a live (synthetic) model and the
popular-products table, the handler cold-started against it, Firehose events built like the service builds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pytest
from firehose_events import COUNTRIES, CUSTOMERS, DIMENSION, PRODUCTS, cold_start

from devstack.streaming import synthetic_model
from devstack.streaming.pipeline import function_environment, vector_conninfo


@dataclass(frozen=True)
class VectorDB:
    conninfo: str
    """Connects into the test's schema (search_path)."""
    versions: dict[str, int]
    """version -> seed of its synthetic vectors."""

    def vectors(self, version: str) -> tuple[dict[str, np.ndarray], dict[int, np.ndarray]]:
        items, users = synthetic_model.embeddings(PRODUCTS, CUSTOMERS, dimension=DIMENSION,
                                                  seed=self.versions[version])
        return dict(zip(items.ids, items.vectors, strict=True)), dict(zip(users.ids, users.vectors, strict=True))


@pytest.fixture(scope="module")
def vector_db(local_stack) -> Iterator[VectorDB]:
    """A schema of its own with versions `v1` (live) and `v2` of a synthetic model and a popular-products ranking."""
    versions = {"v1": 1, "v2": 2}
    with synthetic_model.model_schema(vector_conninfo(), PRODUCTS, CUSTOMERS, COUNTRIES, versions=versions,
                                      dimension=DIMENSION, prefix="st") as conninfo:
        yield VectorDB(conninfo=conninfo, versions=versions)


@pytest.fixture(scope="module")
def lambda_environment(vector_db: VectorDB) -> dict[str, str]:
    return function_environment(vector_db.conninfo)


@pytest.fixture(scope="module")
def handler_module(lambda_environment: dict[str, str]) -> ModuleType:
    return cold_start(lambda_environment)
