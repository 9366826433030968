"""Tests of the source-data generator and loader (devstack/seed.py) on a real MariaDB.

The database tests need the `source_db_admin` fixture: a dict(host, port, user, password) of an account
that may create and drop databases on a MariaDB/MySQL server started with local-infile enabled
(`devstack.connections` opens it: `stack_connections.source_admin()`).
They seed their own database (`seed_test`) at the sample scale and drop it afterwards, so they never
touch `classicmodels`. The production scale is not run here (it takes 30-60 s and ~1 GB); its sizes
are checked on the scale specification.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import MySQLdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from devstack.connections import StackConnections
from devstack.seed import SCALES, TABLES, generate, main, seed_source, write_tsv

AS_OF = datetime.date(2025, 6, 30)
DATABASE = "seed_test"
LINES = {"Classic Cars", "Motorcycles", "Planes", "Ships", "Trains", "Trucks and Buses", "Vintage Cars"}

# column -> (DATA_TYPE, size: varchar length or "precision,scale" or None, nullable)
EXPECTED_COLUMNS: dict[str, list[tuple[str, str, int | str | None, bool]]] = {
    "productlines": [
        ("productLine", "varchar", 50, False),
        ("textDescription", "varchar", 4000, True),
        ("htmlDescription", "mediumtext", None, True),
        ("image", "mediumblob", None, True),
    ],
    "products": [
        ("productCode", "varchar", 15, False),
        ("productName", "varchar", 70, False),
        ("productLine", "varchar", 50, False),
        ("productScale", "varchar", 10, False),
        ("productVendor", "varchar", 50, False),
        ("productDescription", "text", None, False),
        ("quantityInStock", "smallint", None, False),
        ("buyPrice", "decimal", "10,2", False),
        ("MSRP", "decimal", "10,2", False),
    ],
    "offices": [
        ("officeCode", "varchar", 10, False),
        ("city", "varchar", 50, False),
        ("phone", "varchar", 50, False),
        ("addressLine1", "varchar", 50, False),
        ("addressLine2", "varchar", 50, True),
        ("state", "varchar", 50, True),
        ("country", "varchar", 50, False),
        ("postalCode", "varchar", 15, False),
        ("territory", "varchar", 10, False),
    ],
    "employees": [
        ("employeeNumber", "int", None, False),
        ("lastName", "varchar", 50, False),
        ("firstName", "varchar", 50, False),
        ("extension", "varchar", 10, False),
        ("email", "varchar", 100, False),
        ("officeCode", "varchar", 10, False),
        ("reportsTo", "int", None, True),
        ("jobTitle", "varchar", 50, False),
    ],
    "customers": [
        ("customerNumber", "int", None, False),
        ("customerName", "varchar", 50, False),
        ("contactLastName", "varchar", 50, False),
        ("contactFirstName", "varchar", 50, False),
        ("phone", "varchar", 50, False),
        ("addressLine1", "varchar", 50, False),
        ("addressLine2", "varchar", 50, True),
        ("city", "varchar", 50, False),
        ("state", "varchar", 50, True),
        ("postalCode", "varchar", 15, True),
        ("country", "varchar", 50, False),
        ("salesRepEmployeeNumber", "int", None, True),
        ("creditLimit", "decimal", "10,2", True),
    ],
    "orders": [
        ("orderNumber", "int", None, False),
        ("orderDate", "date", None, False),
        ("requiredDate", "date", None, False),
        ("shippedDate", "date", None, True),
        ("status", "varchar", 15, False),
        ("comments", "text", None, True),
        ("customerNumber", "int", None, False),
    ],
    "orderdetails": [
        ("orderNumber", "int", None, False),
        ("productCode", "varchar", 15, False),
        ("quantityOrdered", "int", None, False),
        ("priceEach", "decimal", "10,2", False),
        ("orderLineNumber", "smallint", None, False),
    ],
    "payments": [
        ("customerNumber", "int", None, False),
        ("checkNumber", "varchar", 50, False),
        ("paymentDate", "date", None, False),
        ("amount", "decimal", "10,2", False),
    ],
    "ratings": [
        ("customerNumber", "int", None, False),
        ("productCode", "varchar", 15, False),
        ("productRating", "int", None, False),
    ],
}
EXPECTED_PRIMARY_KEYS = {
    "productlines": "productLine",
    "products": "productCode",
    "offices": "officeCode",
    "employees": "employeeNumber",
    "customers": "customerNumber",
    "orders": "orderNumber",
    "orderdetails": "orderNumber,productCode",
    "payments": "customerNumber,checkNumber",
    "ratings": "customerNumber,productCode",
}
EXPECTED_FOREIGN_KEYS = {
    ("products", "productLine", "productlines", "productLine"),
    ("employees", "reportsTo", "employees", "employeeNumber"),
    ("employees", "officeCode", "offices", "officeCode"),
    ("customers", "salesRepEmployeeNumber", "employees", "employeeNumber"),
    ("orders", "customerNumber", "customers", "customerNumber"),
    ("orderdetails", "orderNumber", "orders", "orderNumber"),
    ("orderdetails", "productCode", "products", "productCode"),
    ("payments", "customerNumber", "customers", "customerNumber"),
    ("ratings", "customerNumber", "customers", "customerNumber"),
    ("ratings", "productCode", "products", "productCode"),
}


@pytest.fixture(scope="module")
def sample() -> dict[str, pa.Table]:
    return generate("sample", AS_OF)


@pytest.fixture(scope="module")
def seeded(source_db_admin: dict[str, Any], stack_connections: StackConnections) -> Iterator[dict[str, int]]:
    counts = seed_source(**source_db_admin, database=DATABASE, scale="sample", as_of=AS_OF)
    yield counts
    conn = stack_connections.source_admin()
    try:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{DATABASE}`")
    finally:
        conn.close()


@pytest.fixture
def db(stack_connections: StackConnections, seeded: dict[str, int]) -> Iterator[MySQLdb.cursors.Cursor]:
    conn = stack_connections.source_admin(DATABASE)
    try:
        yield conn.cursor()
    finally:
        conn.rollback()
        conn.close()


def _scalar(cursor: MySQLdb.cursors.Cursor, sql: str, args: tuple[Any, ...] = ()) -> Any:
    cursor.execute(sql, args)
    return cursor.fetchone()[0]


def _checksums(cursor: MySQLdb.cursors.Cursor) -> dict[str, int]:
    cursor.execute("CHECKSUM TABLE " + ", ".join(TABLES))
    return {name.split(".")[-1]: value for name, value in cursor.fetchall()}


# --- generation (no database) ----------------------------------------------------------------------


def test_same_arguments_give_byte_identical_data(sample: dict[str, pa.Table], tmp_path: Path) -> None:
    again = generate("sample", AS_OF)
    assert list(again) == list(TABLES)
    for name in TABLES:
        assert again[name].equals(sample[name]), name
        write_tsv(sample[name], tmp_path / "first.tsv")
        write_tsv(again[name], tmp_path / "second.tsv")
        assert (tmp_path / "first.tsv").read_bytes() == (tmp_path / "second.tsv").read_bytes(), name


def test_as_of_moves_the_order_history_and_nothing_else(sample: dict[str, pa.Table]) -> None:
    later = generate("sample", AS_OF + datetime.timedelta(days=10))
    for name in ("productlines", "products", "offices", "employees", "customers", "ratings"):
        assert later[name].equals(sample[name]), name
    dates = sample["orders"].column("orderDate")
    assert pc.max(dates).as_py() <= AS_OF
    assert pc.min(dates).as_py() >= AS_OF - datetime.timedelta(days=730)
    assert pc.max(later["orders"].column("orderDate")).as_py() > AS_OF


def test_generated_columns_follow_the_ddl_order(sample: dict[str, pa.Table]) -> None:
    for name, columns in EXPECTED_COLUMNS.items():
        assert sample[name].column_names == [column for column, *_ in columns], name


def test_products_look_like_classicmodels(sample: dict[str, pa.Table]) -> None:
    products = sample["products"].to_pydict()
    assert set(products["productLine"]) == LINES
    assert len(set(products["productCode"])) == len(products["productCode"])
    for code, scale in zip(products["productCode"], products["productScale"], strict=True):
        assert re.fullmatch(r"S\d{2,3}_\d{4}", code)
        assert scale in {"1:10", "1:12", "1:18", "1:24", "1:32", "1:50", "1:72", "1:700"}
        assert code.split("_")[0] == "S" + scale.split(":")[1]
    assert all(buy < msrp for buy, msrp in zip(products["buyPrice"], products["MSRP"], strict=True))
    assert all(0 <= stock <= 32_767 for stock in products["quantityInStock"])


def test_customers_have_realistic_addresses(sample: dict[str, pa.Table]) -> None:
    customers = sample["customers"].to_pydict()
    rows = list(zip(customers["country"], customers["state"], customers["postalCode"], strict=True))
    assert all(state is not None for country, state, _ in rows if country == "USA")
    assert any(state is None for country, state, _ in rows if country != "USA")
    assert all(re.fullmatch(r"\d{5}", postal) for country, _, postal in rows if country == "USA")
    limits = [limit for limit in customers["creditLimit"] if limit]
    assert any(limit != limit.to_integral_value() for limit in limits)  # cents, not round numbers


def test_production_scale_is_sized_for_100k_customers() -> None:
    spec = SCALES["production"]
    assert spec.customers == 100_000
    assert spec.products >= 10_000
    # Ratings >= 1M: lines repeat a customer's product rarely at this size (measured: 1.65 M lines and pairs).
    expected_lines = spec.orders * spec.mean_lines_per_order
    assert expected_lines * 0.9 >= 1_000_000


# --- the loaded database ---------------------------------------------------------------------------


@pytest.mark.stack
def test_sample_counts_are_in_the_stated_ranges(seeded: dict[str, int]) -> None:
    assert seeded["customers"] == 122
    assert seeded["products"] == 110
    assert seeded["productlines"] == 7
    assert seeded["orders"] == 326
    assert 2_700 <= seeded["orderdetails"] <= 3_300
    assert 2_200 <= seeded["ratings"] <= 2_800
    assert seeded["employees"] > 0 and seeded["offices"] > 0 and seeded["payments"] > 0


@pytest.mark.stack
def test_schema_matches_the_source_spec(db: MySQLdb.cursors.Cursor) -> None:
    db.execute(
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
        "NUMERIC_SCALE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
        "ORDER BY TABLE_NAME, ORDINAL_POSITION",
        (DATABASE,),
    )
    actual: dict[str, list[tuple[str, str, int | str | None, bool]]] = {}
    for table, column, data_type, length, precision, scale, nullable in db.fetchall():
        size = {"varchar": length, "decimal": f"{precision},{scale}"}.get(data_type)
        actual.setdefault(table, []).append((column, data_type, size, nullable == "YES"))
    assert actual == EXPECTED_COLUMNS

    db.execute(
        "SELECT TABLE_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) "
        "FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s AND CONSTRAINT_NAME = 'PRIMARY' "
        "GROUP BY TABLE_NAME",
        (DATABASE,),
    )
    assert dict(db.fetchall()) == EXPECTED_PRIMARY_KEYS
    db.execute(
        "SELECT TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME "
        "FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA = %s AND REFERENCED_TABLE_NAME IS NOT NULL",
        (DATABASE,),
    )
    assert set(db.fetchall()) == EXPECTED_FOREIGN_KEYS
    db.execute(
        "SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (DATABASE,)
    )
    assert all(engine == "InnoDB" and collation.startswith("utf8mb4") for engine, collation in db.fetchall())
    assert _scalar(
        db,
        "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'orderDate' AND SEQ_IN_INDEX = 1",
        (DATABASE,),
    ) == 1


@pytest.mark.stack
def test_product_rating_has_no_check_constraint(db: MySQLdb.cursors.Cursor) -> None:
    # The downstream quality gate must be able to see an out-of-range rating, so the source accepts one.
    checks = "SELECT COUNT(*) FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s"
    assert _scalar(db, checks, (DATABASE,)) == 0
    db.execute(
        "INSERT INTO ratings (customerNumber, productCode, productRating) "
        "SELECT c.customerNumber, p.productCode, 6 FROM customers c CROSS JOIN products p "
        "WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.customerNumber = c.customerNumber "
        "AND r.productCode = p.productCode) LIMIT 1"
    )
    assert db.rowcount == 1  # rolled back by the fixture


@pytest.mark.stack
def test_one_rating_per_purchased_pair_and_none_otherwise(db: MySQLdb.cursors.Cursor) -> None:
    purchased = (
        "SELECT DISTINCT o.customerNumber, d.productCode FROM orders o "
        "JOIN orderdetails d ON d.orderNumber = o.orderNumber"
    )
    assert _scalar(db, f"SELECT COUNT(*) FROM ({purchased}) p") == _scalar(db, "SELECT COUNT(*) FROM ratings")
    missing = _scalar(
        db,
        f"SELECT COUNT(*) FROM ({purchased}) p LEFT JOIN ratings r "
        "ON r.customerNumber = p.customerNumber AND r.productCode = p.productCode "
        "WHERE r.productRating IS NULL",
    )
    unpurchased = _scalar(
        db,
        f"SELECT COUNT(*) FROM ratings r LEFT JOIN ({purchased}) p "
        "ON p.customerNumber = r.customerNumber AND p.productCode = r.productCode "
        "WHERE p.productCode IS NULL",
    )
    assert (missing, unpurchased) == (0, 0)


@pytest.mark.stack
def test_ratings_are_between_1_and_5_and_use_every_value(db: MySQLdb.cursors.Cursor) -> None:
    db.execute("SELECT productRating, COUNT(*) FROM ratings GROUP BY productRating ORDER BY productRating")
    assert [rating for rating, _ in db.fetchall()] == [1, 2, 3, 4, 5]


@pytest.mark.stack
def test_ratings_follow_taste_so_a_recommender_can_learn(db: MySQLdb.cursors.Cursor) -> None:
    # Customer means explain a good part of the variance (~20% here); on pure noise, with ~25 ratings
    # per customer, they would explain ~4% (the residual ratio would be ~0.96).
    db.execute("SELECT customerNumber, productCode, productRating FROM ratings")
    rows = db.fetchall()
    ratings = np.array([rating for *_, rating in rows], dtype=float)
    _, by_customer = np.unique([row[0] for row in rows], return_inverse=True)
    customer_mean = np.bincount(by_customer, ratings) / np.bincount(by_customer)
    residual = ratings - customer_mean[by_customer]
    assert residual.var() < 0.85 * ratings.var()


@pytest.mark.stack
def test_some_customers_never_ordered_and_some_products_were_never_sold(db: MySQLdb.cursors.Cursor) -> None:
    assert _scalar(
        db,
        "SELECT COUNT(*) FROM customers c WHERE NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.customerNumber = c.customerNumber)",
    ) > 0
    assert _scalar(
        db,
        "SELECT COUNT(*) FROM products p WHERE NOT EXISTS "
        "(SELECT 1 FROM orderdetails d WHERE d.productCode = p.productCode)",
    ) > 0


@pytest.mark.stack
def test_foreign_keys_hold_although_checks_were_off_during_the_load(db: MySQLdb.cursors.Cursor) -> None:
    for table, column, parent, parent_column in sorted(EXPECTED_FOREIGN_KEYS):
        orphans = _scalar(
            db,
            f"SELECT COUNT(*) FROM {table} t LEFT JOIN {parent} p ON p.{parent_column} = t.{column} "
            f"WHERE t.{column} IS NOT NULL AND p.{parent_column} IS NULL",
        )
        assert orphans == 0, f"{table}.{column}"


@pytest.mark.stack
def test_order_dates_cover_two_years_up_to_as_of(db: MySQLdb.cursors.Cursor) -> None:
    db.execute("SELECT MIN(orderDate), MAX(orderDate) FROM orders")
    first, last = db.fetchone()
    assert last <= AS_OF and (AS_OF - last).days < 30
    assert 600 <= (AS_OF - first).days <= 730
    assert _scalar(db, "SELECT COUNT(*) FROM orders WHERE shippedDate < orderDate OR shippedDate > %s",
                   (AS_OF,)) == 0


@pytest.mark.stack
def test_reseeding_gives_the_same_tables(
    source_db_admin: dict[str, Any], seeded: dict[str, int], db: MySQLdb.cursors.Cursor
) -> None:
    before = _checksums(db)
    db.connection.commit()
    again = seed_source(**source_db_admin, database=DATABASE, scale="sample", as_of=AS_OF)
    assert again == seeded
    assert _checksums(db) == before


@pytest.mark.stack
def test_cli_seeds_and_prints_the_counts(
    source_db_admin: dict[str, Any], seeded: dict[str, int], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SEED_TEST_PASSWORD", source_db_admin["password"])
    main([
        "--host", source_db_admin["host"], "--port", str(source_db_admin["port"]),
        "--user", source_db_admin["user"], "--password-env", "SEED_TEST_PASSWORD",
        "--database", DATABASE, "--scale", "sample", "--as-of", AS_OF.isoformat(),
    ])
    assert json.loads(capsys.readouterr().out) == seeded
