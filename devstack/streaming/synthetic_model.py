"""A live model without training: random item and user vectors for a catalogue, loaded and swapped live with the
vector store's own functions, and a popular-products ranking. For the streaming tests (each in its own schema)
and for trying the stream on a stack where the training DAGs have not run.

The vectors mean nothing; what they exercise is real: the version tables, HNSW indexes, the live flag, the
fallback table.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from dataplatform.batch import popular_products
from dataplatform.vectordb import store
from dataplatform.vectordb.embeddings_file import EmbeddingsTable


def embeddings(product_codes: Sequence[str], customer_numbers: Sequence[int], *, dimension: int = 16,
               seed: int = 0) -> tuple[EmbeddingsTable, EmbeddingsTable]:
    rng = np.random.default_rng(seed)
    items = EmbeddingsTable(kind="item", ids=list(product_codes),
                            vectors=rng.standard_normal((len(product_codes), dimension)).astype(np.float32),
                            lines=np.arange(2, len(product_codes) + 2), dimension=dimension,
                            source="item_embeddings.csv")
    users = EmbeddingsTable(kind="user", ids=list(customer_numbers),
                            vectors=rng.standard_normal((len(customer_numbers), dimension)).astype(np.float32),
                            lines=np.arange(2, len(customer_numbers) + 2), dimension=dimension,
                            source="user_embeddings.csv")
    return items, users


def load_live(conn: psycopg.Connection, version: str, product_codes: Sequence[str],
              customer_numbers: Sequence[int], *, dimension: int = 16, seed: int = 0, live: bool = True) -> None:
    """Load `version` (random vectors for these products and customers) and, if `live`, swap it live."""
    items, users = embeddings(product_codes, customer_numbers, dimension=dimension, seed=seed)
    store.load_version(conn, version, items, users,
                       source_uris={"item_embeddings.csv": f"synthetic://{version}/item_embeddings.csv",
                                    "user_embeddings.csv": f"synthetic://{version}/user_embeddings.csv"})
    if live:
        store.swap_live(conn, version)


def publish_popular(conn: psycopg.Connection, product_codes: Sequence[str], countries: Sequence[str],
                    as_of: date | None = None) -> int:
    """A popular-products ranking (per country and overall, '*') over `product_codes`, published as the batch does."""
    rows = []
    for c, country in enumerate([*countries, "*"]):
        for p, code in enumerate(product_codes):
            units = (len(product_codes) - p) * (1 + (c + p) % 3)
            rows.append(popular_products.Popularity(country, code, units, units * 4, units * 50))
    return popular_products.publish(conn, rows, as_of or date.today())


@contextmanager
def model_schema(base_conninfo: str, product_codes: Sequence[str], customer_numbers: Sequence[int],
                 countries: Sequence[str], *, versions: Mapping[str, int] | None = None, live: str | None = None,
                 dimension: int = 16, prefix: str = "stream") -> Iterator[str]:
    """A new schema holding `versions` (version -> seed; default `{"v1": 1}`) of a synthetic model, `live` (default:
    the first) swapped live, and a popular-products ranking; yields a conninfo that works in it (search_path),
    drops the schema afterwards."""
    versions = dict(versions or {"v1": 1})
    schema = f"test_{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(base_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        conninfo = make_conninfo(base_conninfo, options=f"-c search_path={schema},public")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for version, seed in versions.items():
                load_live(conn, version, product_codes, customer_numbers, dimension=dimension, seed=seed, live=False)
            store.swap_live(conn, live or next(iter(versions)))
            publish_popular(conn, product_codes[:30], countries)
        yield conninfo
    finally:
        with psycopg.connect(base_conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
