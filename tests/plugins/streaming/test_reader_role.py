"""The serving Lambdas' database role: reads the live embeddings, model_versions and popular_products through
every embeddings_load swap, writes nothing, reads nothing else. Real PostgreSQL + pgvector; each test in its own
schema with its own role, dropped afterwards."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from dataplatform.serving.live import version_tables
from dataplatform.serving.models import UserActivityEvent
from dataplatform.serving.recommender import Recommender
from dataplatform.vectordb import roles, store
from devstack.streaming.synthetic_model import load_live, publish_popular

pytestmark = pytest.mark.stack

PRODUCTS = ["S18_3232", "S24_2300", *(f"S10_{i:04d}" for i in range(30))]
CUSTOMERS = [141, 142, 143]
EVENT = UserActivityEvent.model_validate({
    "session_id": "3f0d8a52-6a1e-4c5e-9b1a-2f7d3c1e9a10", "customer_number": 141, "city": "Madrid",
    "country": "Spain", "credit_limit": 227600,
    "browse_history": [{"product_code": "S18_3232", "quantity": "1", "in_shopping_cart": True}]})


@dataclass(frozen=True)
class Store:
    schema: str
    role: str
    loader: str
    """conninfo of the pipelines' role (the loader) in the schema."""
    reader: str
    """conninfo of the serving role in the schema."""


@pytest.fixture
def reader_store(stack_connections) -> Iterator[Store]:
    """A schema owned by the pipelines' role with a live model and popular products, and a serving role for it."""
    token = secrets.token_hex(4)
    schema, role, password = f"test_reader_{token}", f"reader_{token}", secrets.token_urlsafe(24)
    with stack_connections.vector_db(superuser=True, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
            sql.Identifier(schema), sql.Identifier("dataplatform")))
    options = f"-c search_path={schema},public"
    loader = stack_connections.vector_conninfo(options=options)
    reader = make_conninfo(loader, user=role, password=password)
    with psycopg.connect(loader, autocommit=True) as conn:  # a version exists before the role does
        load_live(conn, "v1", PRODUCTS, CUSTOMERS, seed=1)
        publish_popular(conn, PRODUCTS[:10], ["Spain"])
    with stack_connections.vector_db(superuser=True) as admin:
        roles.ensure_reader_role(admin, role=role, password=password, schema=schema, connection_limit=20)
    with psycopg.connect(loader) as conn:
        roles.sync_reader_grants(conn, role=role, schema=schema)
    yield Store(schema, role, loader, reader)
    with stack_connections.vector_db(superuser=True, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        admin.execute(sql.SQL("DROP EVENT TRIGGER IF EXISTS {}").format(sql.Identifier(roles.trigger_name(role))))
        admin.execute(sql.SQL("DROP FUNCTION IF EXISTS {}()").format(sql.Identifier(roles.trigger_name(role))))
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _recommend(conninfo: str):
    """One answer as a warmed Lambda gives it: every table of the live version read in process as the role."""
    recommender = Recommender(conninfo)
    try:
        recommender.warm()
        assert recommender.status()["in_process"].endswith("lists: item neighbours, customers' top items"), \
            recommender.status()
        return recommender.recommend(EVENT)
    finally:
        recommender.close()


def test_reader_answers_from_the_live_version(reader_store: Store) -> None:
    answer = _recommend(reader_store.reader)
    assert answer.model_version == "v1"
    assert not answer.fallback
    assert answer.recommended_items and answer.similar_items[0].similar_items


def test_reader_still_reads_after_every_embeddings_load_swap(reader_store: Store) -> None:
    """GIVEN the role set up while v1 was live WHEN v2 and v3 are loaded and swapped (new tables each time), and
    then rolled back THEN the role answers from each live version, with no grant run in between."""
    for version, seed in (("v2", 2), ("v3", 3)):
        with psycopg.connect(reader_store.loader, autocommit=True) as conn:
            load_live(conn, version, PRODUCTS, CUSTOMERS, seed=seed)
        assert _recommend(reader_store.reader).model_version == version
    with psycopg.connect(reader_store.loader, autocommit=True) as conn:
        assert store.rollback(conn) == "v2"
    assert _recommend(reader_store.reader).model_version == "v2"
    with psycopg.connect(reader_store.loader) as conn:
        assert not roles.grant_changes(conn, role=reader_store.role, schema=reader_store.schema)


@pytest.mark.parametrize("statement", [
    "INSERT INTO model_versions (version, slug, dimension, item_count, user_count) VALUES ('x', 'x', 1, 0, 0)",
    "UPDATE model_versions SET is_live = false",
    "DELETE FROM popular_products",
    "UPDATE popular_products SET rank = 1",
    "CREATE TABLE sneaky (id int)",
    "CREATE TEMP TABLE sneaky (id int)",
])
def test_reader_cannot_write(reader_store: Store, statement: str) -> None:
    with psycopg.connect(reader_store.reader, autocommit=True) as conn, pytest.raises(
            (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)):
        conn.execute(statement)


def test_reader_cannot_write_even_a_table_it_can_read(reader_store: Store) -> None:
    """SELECT-only grants, and read-only transactions behind them."""
    with psycopg.connect(reader_store.reader) as conn:
        slug = conn.execute("SELECT slug FROM model_versions WHERE is_live").fetchone()[0]
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(f"item_embeddings__{slug}")))


def test_reader_cannot_read_other_tables_created_by_the_loader(reader_store: Store) -> None:
    """A table of personal data the pipelines' role creates in the same schema (after the role was set up) and the
    reader views stay unreadable: grants go by the serving code's table names, not by owner."""
    with psycopg.connect(reader_store.loader, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers_personal (customer_number int, phone text, address text)")
        conn.execute("INSERT INTO customers_personal VALUES (141, '+34 91 555 0100', 'Calle Mayor 1')")
    with psycopg.connect(reader_store.reader, autocommit=True) as conn:
        for table in ("customers_personal", "item_embeddings", "user_embeddings"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))


def test_sync_revokes_a_grant_beyond_least_privilege(reader_store: Store) -> None:
    with psycopg.connect(reader_store.loader, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders_export (order_number int)")
        conn.execute(sql.SQL("GRANT SELECT, INSERT ON orders_export, model_versions TO {}").format(
            sql.Identifier(reader_store.role)))
    with psycopg.connect(reader_store.loader) as conn:
        changes = roles.sync_reader_grants(conn, role=reader_store.role, schema=reader_store.schema)
        assert changes.revoke == ["model_versions", "orders_export"] and changes.grant == ["model_versions"]
        assert not roles.grant_changes(conn, role=reader_store.role, schema=reader_store.schema)
    with psycopg.connect(reader_store.reader, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM orders_export")
        assert conn.execute("SELECT count(*) FROM model_versions").fetchone()[0] == 1


def test_ensure_is_idempotent_and_leaves_a_read_only_role(reader_store: Store, stack_connections) -> None:
    with stack_connections.vector_db(superuser=True) as admin:
        roles.ensure_reader_role(admin, role=reader_store.role, password=secrets.token_urlsafe(24),
                                 schema=reader_store.schema, connection_limit=20)
        assert roles.reader_problems(admin, role=reader_store.role) == []
        admin.execute(sql.SQL("ALTER ROLE {} CREATEDB INHERIT").format(sql.Identifier(reader_store.role)))
        assert roles.reader_problems(admin, role=reader_store.role) == [
            f"role {reader_store.role} has rolcreatedb", f"role {reader_store.role} has rolinherit"]
        # a trigger installed before the served tables grew (its function grants by the old pattern) is named
        function = sql.Identifier(roles.trigger_name(reader_store.role))
        admin.execute(sql.SQL("ALTER ROLE {} NOCREATEDB NOINHERIT").format(sql.Identifier(reader_store.role)))
        source = admin.execute("SELECT prosrc FROM pg_proc WHERE proname = %s",
                               (roles.trigger_name(reader_store.role),)).fetchone()[0]
        old = source.replace(roles.SERVED_PATTERN, roles.SERVED_PATTERN.replace("|item_neighbours__", ""))
        admin.execute(sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS event_trigger LANGUAGE plpgsql AS {}").format(
            function, sql.Literal(old)))
        assert [p for p in roles.reader_problems(admin, role=reader_store.role)
                if "grants by an older list of served tables" in p]
        roles.ensure_reader_role(admin, role=reader_store.role, password=secrets.token_urlsafe(24),
                                 schema=reader_store.schema, connection_limit=20)
        assert roles.reader_problems(admin, role=reader_store.role) == []


def test_served_pattern_covers_every_table_the_serving_code_reads() -> None:
    """The serving SQL reads model_versions, popular_products and the version tables (by identifier): the role's
    pattern must match each, and nothing the loader writes that the serving code does not read."""
    serving_sql = Path(roles.__file__).resolve().parents[1] / "serving" / "sql"
    named = set()
    for path in serving_sql.glob("*.sql"):
        body = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("--"))
        named |= set(re.findall(r"\bFROM\s+([a-z_]+)\b", body, re.I))
        named |= {table for placeholder, table in version_tables("v1").items() if f"{{{placeholder}}}" in body}
    named -= {"unnest", "q"}
    assert named >= {"model_versions", "popular_products", *version_tables("v1").values()}
    for table in named:
        assert re.fullmatch(roles.SERVED_PATTERN, table), table
    for table in ("item_embeddings", "user_embeddings", "customers", "item_embeddings__", "item_neighbours",
                  "model_versions_backup"):
        assert not re.fullmatch(roles.SERVED_PATTERN, table), table
