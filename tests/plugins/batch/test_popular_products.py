"""Popular products: computed on the real MariaDB source, published to and read from the real PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import MySQLdb
import pytest

from dataplatform.batch import popular_products as pp

pytestmark = pytest.mark.stack
AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def source(source_db_admin):
    """A source seeded for a fixed as_of date, in its own database."""
    from devstack.seed import seed_source

    seed_source(**source_db_admin, database="popular_test", scale="sample", as_of=AS_OF)
    conn = MySQLdb.connect(**source_db_admin, database="popular_test")
    yield conn
    conn.cursor().execute("DROP DATABASE popular_test")
    conn.close()


def expected_units(source, days: int) -> tuple[Counter, Counter]:
    """The same numbers computed row by row in Python, independently of the SQL."""
    cur = source.cursor()
    cur.execute("SELECT c.country, d.productCode, d.quantityOrdered, o.orderDate, o.status FROM orders o "
                "JOIN orderdetails d USING (orderNumber) JOIN customers c USING (customerNumber)")
    per_country, overall = Counter(), Counter()
    for country, product, qty, ordered, status in cur.fetchall():
        if status != "Cancelled" and AS_OF - timedelta(days=days) < ordered <= AS_OF:
            per_country[(country, product)] += qty
            overall[product] += qty
    return per_country, overall


def test_units_sold_match_a_row_by_row_count(source) -> None:
    rows = pp.units_sold(source, AS_OF)
    for days, attr in ((7, "units_7d"), (30, "units_30d")):
        per_country, overall = expected_units(source, days)
        assert {(r.country, r.product_code): getattr(r, attr) for r in rows
                if r.country != "*" and getattr(r, attr)} == {k: v for k, v in per_country.items() if v}
        assert {r.product_code: getattr(r, attr) for r in rows
                if r.country == "*" and getattr(r, attr)} == {k: v for k, v in overall.items() if v}


def test_ranking_is_7_days_then_30_then_all_time() -> None:
    rows = [pp.Popularity("*", "A", 0, 9, 9), pp.Popularity("*", "B", 1, 1, 1), pp.Popularity("*", "C", 0, 9, 99)]
    assert [(r.product_code, rank) for r, rank in pp.ranked(rows)] == [("B", 1), ("C", 2), ("A", 3)]


def test_fallback_is_the_countrys_top_topped_up_from_overall(source, pg_conn) -> None:
    rows = pp.units_sold(source, AS_OF)
    pp.publish(pg_conn, rows, AS_OF)
    country_rows = [r for r, _ in pp.ranked(rows) if r.country == "Spain"]
    top = pp.top(pg_conn, "Spain", k=len(country_rows) + 3)
    assert top[: len(country_rows)] == [r.product_code for r in country_rows]
    assert len(top) == len(set(top)) == len(country_rows) + 3
    overall = [r.product_code for r, _ in pp.ranked(rows) if r.country == "*"]
    assert pp.top(pg_conn, "Atlantis", k=5) == overall[:5]


def test_empty_computation_keeps_the_previous_ranking(source, pg_conn) -> None:
    pp.publish(pg_conn, pp.units_sold(source, AS_OF), AS_OF)
    before = pp.top(pg_conn, None, k=10)
    with pytest.raises(ValueError, match="keeping the previous popular-products ranking"):
        pp.publish(pg_conn, pp.units_sold(source, date(2000, 1, 1)), date(2000, 1, 1))
    assert pp.top(pg_conn, None, k=10) == before
