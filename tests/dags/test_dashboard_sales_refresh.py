"""dashboard_sales_refresh end to end with dag.test(): MariaDB (the replica, sample scale with the announced
orders.orderTimestamp) -> pandas -> PostgreSQL `analytics`, checked by the common-sql operators.

Each test seeds the source afresh (history ending yesterday, so nothing is in the future) and empties the
dashboard tables; the module leaves the source as the other tests expect it (sample, no order timestamps).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dataplatform.freshness.models import RefreshRecord

DAG_ID = "dashboard_sales_refresh"
AS_OF = datetime.now(UTC).date() - timedelta(days=1)
CHECKS = ("check_sales_columns", "check_sales_revenue", "check_sales_hours")

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def restore_source(source_db_admin: dict) -> Iterator[None]:
    from devstack.seed import seed_source

    yield
    seed_source(**source_db_admin, scale="sample")


@pytest.fixture
def source(restore_source, source_db_admin: dict, stack_connections) -> Iterator[Any]:
    """The replica (admin connection, autocommit), seeded at sample scale with order timestamps."""
    from devstack.seed import seed_source

    seed_source(**source_db_admin, scale="sample", as_of=AS_OF, order_timestamps=True)
    conn = stack_connections.source_admin("classicmodels", autocommit=True)
    yield conn
    conn.close()


@pytest.fixture
def dashboard(stack_connections) -> Iterator[Any]:
    """The vector DB as the pipelines' role (autocommit), the dashboard's tables emptied first."""
    with stack_connections.vector_db(autocommit=True) as pg:
        for table in ("analytics.sales_hourly", "analytics.sales_refresh_runs"):
            if pg.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
                pg.execute(f"TRUNCATE {table}")
        yield pg


def _source_totals(conn: Any, since: datetime | None = None, until: datetime | None = None) -> tuple[int, Decimal]:
    cur = conn.cursor()
    cur.execute(
        "SELECT COALESCE(SUM(d.quantityOrdered), 0), COALESCE(SUM(d.quantityOrdered * d.priceEach), 0) "
        "FROM orders o JOIN orderdetails d ON d.orderNumber = o.orderNumber "
        "WHERE o.orderTimestamp >= %s AND o.orderTimestamp < %s",
        (since or datetime(1970, 1, 1), until or datetime(9999, 1, 1)),
    )
    units, revenue = cur.fetchone()
    return int(units), Decimal(revenue)


def _dashboard_totals(pg: Any, since: datetime | None = None, until: datetime | None = None) -> tuple[int, Decimal]:
    units, revenue = pg.execute(
        "SELECT COALESCE(SUM(units), 0), COALESCE(SUM(revenue), 0) FROM analytics.sales_hourly "
        "WHERE order_hour >= %s AND order_hour < %s",
        (since or datetime(1970, 1, 1, tzinfo=UTC), until or datetime(9999, 1, 1, tzinfo=UTC)),
    ).fetchone()
    return int(units), Decimal(revenue)


def _snapshot(pg: Any) -> list[tuple]:
    return pg.execute("SELECT * FROM analytics.sales_hourly ORDER BY order_hour, country, product_line").fetchall()


def _insert_order(conn: Any, placed: datetime, lines: list[tuple[str, int]], customer: int | None = None) -> int:
    """A new order placed at `placed` (naive UTC) with (productCode, quantity) lines at each product's MSRP."""
    cur = conn.cursor()
    cur.execute("SELECT MAX(orderNumber) + 1 FROM orders")
    (number,) = cur.fetchone()
    if customer is None:
        cur.execute("SELECT MIN(customerNumber) FROM orders")
        (customer,) = cur.fetchone()
    cur.execute(
        "INSERT INTO orders (orderNumber, orderDate, orderTimestamp, requiredDate, status, customerNumber) "
        "VALUES (%s, %s, %s, %s, 'In Process', %s)",
        (number, placed.date(), placed, placed.date() + timedelta(days=7), customer),
    )
    for line_number, (code, quantity) in enumerate(lines, start=1):
        cur.execute(
            "INSERT INTO orderdetails (orderNumber, productCode, quantityOrdered, priceEach, orderLineNumber) "
            "SELECT %s, productCode, %s, MSRP, %s FROM products WHERE productCode = %s",
            (number, quantity, line_number, code),
        )
    return number


def _products(conn: Any, n: int = 2) -> list[str]:
    cur = conn.cursor()
    cur.execute("SELECT productCode FROM products ORDER BY productCode LIMIT %s", (n,))
    return [code for (code,) in cur.fetchall()]


def _newest_order(conn: Any) -> datetime:
    cur = conn.cursor()
    cur.execute("SELECT MAX(orderTimestamp) FROM orders")
    return cur.fetchone()[0]


def _run(run_dag, conf: dict | None = None) -> tuple[str, dict, dict]:
    return run_dag(DAG_ID, conf)


def test_first_run_publishes_the_whole_history_and_its_freshness(run_dag, source, dashboard) -> None:
    state, tasks, results = _run(run_dag)

    assert state == "success", tasks
    assert all(tasks[c] == "success" for c in CHECKS)
    assert tasks["drop_sales_stage"] == "success"
    assert _dashboard_totals(dashboard) == _source_totals(source)
    record = RefreshRecord.from_payload(results["publish_sales_window"])
    assert record.kind == "initial" and record.since is None and record.deleted == 0
    assert record.inserted == record.groups > 0
    newest = _newest_order(source).replace(tzinfo=UTC)
    assert record.newest_event_at == newest
    assert record.freshness_seconds == pytest.approx((record.published_at - newest).total_seconds(), abs=1)
    stored = dashboard.execute("SELECT kind, read_newest_at, freshness_seconds FROM analytics.sales_refresh_runs"
                               ).fetchall()
    assert stored == [("initial", newest, pytest.approx(record.freshness_seconds))]
    # the grain: hour x country x product line, hours whole, distinct orders counted per group
    hours = dashboard.execute("SELECT DISTINCT extract(minute FROM order_hour) + extract(second FROM order_hour) "
                              "FROM analytics.sales_hourly").fetchall()
    assert hours == [(0,)]
    assert dashboard.execute("SELECT to_regclass('analytics.sales_hourly_stage')").fetchone() == (None,)


def test_rerun_changes_nothing(run_dag, source, dashboard) -> None:
    _run(run_dag)
    before = _snapshot(dashboard)

    state, tasks, results = _run(run_dag)

    assert state == "success", tasks
    record = RefreshRecord.from_payload(results["publish_sales_window"])
    assert record.kind == "incremental" and record.lines > 0  # it did re-read its trailing window
    assert (record.inserted, record.updated, record.deleted) == (0, 0, 0)
    assert _snapshot(dashboard) == before  # refreshed_at included: untouched rows


def test_late_order_within_the_trailing_window_is_added_to_its_hour(run_dag, source, dashboard) -> None:
    # GIVEN a published dashboard, and an order that reaches the replica late: placed 2 h before the newest
    _run(run_dag)
    placed = _newest_order(source) - timedelta(hours=2)
    hour = placed.replace(minute=0, second=0, microsecond=0, tzinfo=UTC)
    before = _dashboard_totals(dashboard, hour, hour + timedelta(hours=1))
    _insert_order(source, placed, [(code, 7) for code in _products(source)])

    # WHEN the next scheduled run reads its window
    state, tasks, results = _run(run_dag)

    # THEN the hour now has the late order's 14 units, and the whole dashboard still equals the source
    assert state == "success", tasks
    after = _dashboard_totals(dashboard, hour, hour + timedelta(hours=1))
    assert after[0] == before[0] + 14
    assert _dashboard_totals(dashboard) == _source_totals(source)
    record = RefreshRecord.from_payload(results["publish_sales_window"])
    assert record.inserted + record.updated >= 1


def test_change_older_than_the_window_waits_for_a_backfill_of_its_days(run_dag, source, dashboard) -> None:
    # GIVEN a published dashboard, and a line of a 30-day-old order changed on the replica afterwards
    _run(run_dag)
    day = AS_OF - timedelta(days=30)
    cur = source.cursor()
    cur.execute("SELECT o.orderNumber, d.productCode, o.orderTimestamp FROM orders o "
                "JOIN orderdetails d ON d.orderNumber = o.orderNumber "
                "WHERE o.orderTimestamp >= %s ORDER BY o.orderTimestamp LIMIT 1", (day,))
    number, code, placed = cur.fetchone()
    day = placed.date()
    cur.execute("UPDATE orderdetails SET quantityOrdered = quantityOrdered + 100 "
                "WHERE orderNumber = %s AND productCode = %s", (number, code))
    since = datetime.combine(day, datetime.min.time(), UTC)
    stale = _dashboard_totals(dashboard, since, since + timedelta(days=1))

    # WHEN an incremental run goes by, THEN the change is outside its trailing window
    _run(run_dag)
    assert _dashboard_totals(dashboard, since, since + timedelta(days=1)) == stale

    # WHEN a backfill of that day runs, THEN the day matches the source again and the watermark did not move
    watermark = dashboard.execute("SELECT MAX(read_newest_at) FROM analytics.sales_refresh_runs").fetchone()[0]
    state, tasks, results = _run(run_dag, {"start_date": day.isoformat(), "end_date": day.isoformat()})
    assert state == "success", tasks
    record = RefreshRecord.from_payload(results["publish_sales_window"])
    assert record.kind == "backfill" and record.updated >= 1
    assert record.since == since and record.until == since + timedelta(days=1)
    fixed = _dashboard_totals(dashboard, since, since + timedelta(days=1))
    assert fixed[0] == stale[0] + 100
    assert _dashboard_totals(dashboard) == _source_totals(source)
    assert dashboard.execute("SELECT MAX(read_newest_at) FROM analytics.sales_refresh_runs "
                             "WHERE kind <> 'backfill'").fetchone()[0] == watermark


def test_backfill_needs_both_dates(run_dag, source, dashboard, task_tries) -> None:
    state, tasks, _ = _run(run_dag, {"start_date": date(2026, 1, 1).isoformat()})

    assert state == "failed"
    assert tasks["plan_refresh_window"] == "failed" and task_tries(DAG_ID)["plan_refresh_window"] == 1
    assert tasks["stage_sales_window"] == "upstream_failed"


def test_future_order_fails_the_hours_check_and_publishes_nothing(run_dag, source, dashboard) -> None:
    _run(run_dag)
    before = _snapshot(dashboard)
    _insert_order(source, datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=3), [(_products(source)[0], 5)])

    state, tasks, _ = _run(run_dag)

    assert state == "failed"
    assert tasks["check_sales_hours"] == "failed"
    assert tasks["check_sales_columns"] == tasks["check_sales_revenue"] == "success"
    assert tasks["publish_sales_window"] == "upstream_failed"
    assert tasks["drop_sales_stage"] == "success"  # teardown whatever happened
    assert _snapshot(dashboard) == before


def test_negative_units_fail_the_column_check(run_dag, source, dashboard) -> None:
    _insert_order(source, _newest_order(source) - timedelta(minutes=30), [(_products(source)[0], -100_000)])

    state, tasks, _ = _run(run_dag)

    assert state == "failed"
    assert tasks["check_sales_columns"] == "failed"
    assert tasks["publish_sales_window"] == "upstream_failed"
    assert dashboard.execute("SELECT COUNT(*) FROM analytics.sales_hourly").fetchone() == (0,)


def test_source_without_order_timestamp_stops_the_run_at_the_schema_check(
    run_dag, source, source_db_admin, dashboard, task_tries
) -> None:
    from devstack.seed import seed_source

    seed_source(**source_db_admin, scale="sample", as_of=AS_OF)  # the replica before the announced change

    state, tasks, _ = _run(run_dag)

    assert state == "failed"
    assert tasks["check_source_schema"] == "failed"
    assert task_tries(DAG_ID)["check_source_schema"] == 1  # no retries: waiting is the only fix
    assert tasks["create_sales_stage"] == tasks["stage_sales_window"] == "upstream_failed"
