"""`dashboard_sales_refresh` and `pipeline_watchdog` on their schedules in the running platform: unpaused, a DAG with
catchup=False gets its latest due *scheduled* run from the scheduler at once, and that run does the real work on the
session's stack (MariaDB source, the dashboard in PostgreSQL, moto's CloudWatch and SNS).

One scheduled run of each (the refresh first, so the watchdog judges a refreshed dashboard); both DAGs are paused
again at the end. The session's source has no `orders.orderTimestamp`; this module gives it the announced column
through devstack's own seed (the same sample data plus the column), places a few orders now with the order
simulator, and seeds the source back as the session has it when it is done.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from devstack.airflow_local.rest_api import AirflowApi
from devstack.connections import SOURCE_DATABASE, StackConnections
from devstack.demo import pause_when_idle
from devstack.order_simulator import OrderSimulator, PlacedOrder
from tests.platform.conftest import AlertsQueue

DASHBOARD = "dashboard_sales_refresh"
WATCHDOG = "pipeline_watchdog"
RUN_TIMEOUT = 900.0

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def sales_source(api: AirflowApi, source_db_admin: dict, stack_connections: StackConnections
                 ) -> Iterator[list[PlacedOrder]]:
    """Both DAGs paused with no run active; the source with the announced column and three orders placed now (what
    they were); an empty dashboard."""
    from dataplatform.freshness import sales_table
    from devstack.seed import seed_source

    for dag_id in (DASHBOARD, WATCHDOG):  # as created (a no-op then), or as an interrupted session left them
        pause_when_idle(api, dag_id, RUN_TIMEOUT)
    seed_source(**source_db_admin, scale="sample", order_timestamps=True)
    conn = stack_connections.source_admin(SOURCE_DATABASE)
    try:
        simulator = OrderSimulator(conn, late_share=0.0, seed=11)
        placed = [simulator.place() for _ in range(3)]
    finally:
        conn.close()
    with stack_connections.vector_db(autocommit=True) as pg:  # the first scheduled refresh is the initial one
        sales_table.ensure_tables(pg)
        pg.execute("TRUNCATE analytics.sales_hourly, analytics.sales_refresh_runs")
    yield placed
    seed_source(**source_db_admin, scale="sample")  # as tests/conftest.py's seeded_source leaves it


def _due_at_once(api: AirflowApi, dag_id: str, timeout: float = 300.0) -> None:
    """Make the scheduler's next run of `dag_id` the latest due slot, as on a fresh platform: the runs an earlier
    session left in this stack's metadata DB are deleted (the latest of them would push the next run to the next
    tick), and the dag-processor's next parse (every 30 s) recomputes the next run from what is left: nothing."""
    while runs := api.runs(dag_id, limit=100):
        for run in runs:
            api.delete_run(dag_id, run["dag_run_id"])
    deadline = time.monotonic() + timeout
    while True:
        after = api.dag(dag_id)["next_dagrun_run_after"]
        if after and datetime.fromisoformat(after) <= datetime.now(UTC):
            return
        assert time.monotonic() < deadline, f"{dag_id}'s next run is not due after {timeout:.0f}s: {after}"
        time.sleep(5)


def _scheduled_run(api: AirflowApi, dag_id: str) -> dict[str, Any]:
    """Unpause `dag_id` (its next run due now); the run the scheduler creates for it, finished."""
    _due_at_once(api, dag_id)
    api.unpause(dag_id)
    run = api.wait_for_new_run(dag_id, (), timeout=RUN_TIMEOUT)
    return api.wait_for_run(dag_id, run["dag_run_id"], timeout=RUN_TIMEOUT)


@pytest.fixture(scope="module")
def scheduled_runs(api: AirflowApi, sales_source: list[PlacedOrder], alerts_queue: AlertsQueue
                   ) -> Iterator[dict[str, dict[str, Any]]]:
    """GIVEN both DAGs paused, idle (and the alerts queue subscribed), WHEN the refresh is unpaused, then (its run
    finished) the watchdog: each one's first scheduled run, finished. Both paused again afterwards, before the
    source is seeded back."""
    try:
        runs = {DASHBOARD: _scheduled_run(api, DASHBOARD)}
        runs[WATCHDOG] = _scheduled_run(api, WATCHDOG)
        yield runs
    finally:
        for dag_id in (DASHBOARD, WATCHDOG):  # a second scheduled run may have started meanwhile: it finishes first
            pause_when_idle(api, dag_id, RUN_TIMEOUT)


def _source_sales(stack_connections: StackConnections) -> tuple[int, int, Decimal]:
    """(hour x country x product line groups, units, revenue) of the order lines that have an order time."""
    conn = stack_connections.source_admin(SOURCE_DATABASE)
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT COUNT(DISTINCT DATE_FORMAT(o.orderTimestamp, '%Y-%m-%d %H'), c.country, p.productLine), "
            "SUM(d.quantityOrdered), SUM(d.quantityOrdered * d.priceEach) FROM orders o "
            "JOIN orderdetails d ON d.orderNumber = o.orderNumber "
            "JOIN customers c ON c.customerNumber = o.customerNumber "
            "JOIN products p ON p.productCode = d.productCode WHERE o.orderTimestamp IS NOT NULL")
        groups, units, revenue = cur.fetchone()
    finally:
        conn.close()
    return int(groups), int(units), Decimal(revenue)


def test_the_dashboard_refresh_runs_on_its_schedule_and_publishes_the_hourly_sales(
    api: AirflowApi, scheduled_runs: dict[str, dict[str, Any]], sales_source: list[PlacedOrder],
    stack_connections: StackConnections,
) -> None:
    run = scheduled_runs[DASHBOARD]

    assert run["run_type"] == "scheduled"
    assert run["state"] == "success", api.task_states(DASHBOARD, run["dag_run_id"])
    # THEN the dashboard is the source's order lines by hour x country x product line, to the cent
    with stack_connections.vector_db(autocommit=True) as pg:
        rows, units, revenue = pg.execute(
            "SELECT count(*), sum(units), sum(revenue) FROM analytics.sales_hourly").fetchone()
        newest_hour = pg.execute(
            "SELECT order_hour FROM analytics.sales_hourly ORDER BY last_event_at DESC LIMIT 1").fetchone()[0]
        recorded = pg.execute("SELECT kind, newest_event_at, published_at, freshness_seconds "
                              "FROM analytics.sales_refresh_runs WHERE run_id = %s", (run["dag_run_id"],)).fetchall()
    assert (rows, units, revenue) == _source_sales(stack_connections)
    newest_order = max(o.placed_at for o in sales_source).replace(tzinfo=UTC)
    assert newest_hour == newest_order.replace(minute=0, second=0)
    # AND the run recorded the freshness it achieved: its publication minus the newest order (placed minutes ago)
    [(kind, newest_event_at, published_at, freshness_seconds)] = recorded
    assert kind == "initial" and newest_event_at == newest_order
    assert freshness_seconds == pytest.approx((published_at - newest_order).total_seconds(), abs=1)
    assert 0 <= freshness_seconds <= (datetime.fromisoformat(run["end_date"]) - newest_order).total_seconds()


def test_the_watchdog_runs_on_its_schedule_and_records_a_verdict_for_every_check(
    api: AirflowApi, scheduled_runs: dict[str, dict[str, Any]], sales_source: list[PlacedOrder],
    stack_connections: StackConnections, alerts_queue: AlertsQueue,
) -> None:
    from dataplatform.freshness import watchdog_spec

    run = scheduled_runs[WATCHDOG]
    checks = watchdog_spec.load().checks
    tasks = api.task_states(WATCHDOG, run["dag_run_id"])
    with stack_connections.vector_db(autocommit=True) as pg:
        verdicts = {row[0]: row[1:] for row in pg.execute(
            "SELECT check_name, status, value, threshold, alert FROM analytics.watchdog_verdicts "
            "WHERE run_id = %s AND evaluated_at >= %s",  # a run id an earlier session's deleted run may have had
            (run["dag_run_id"], datetime.fromisoformat(run["start_date"]))).fetchall()}

    assert run["run_type"] == "scheduled"
    assert set(verdicts) == set(checks), tasks
    # THEN the dashboard the scheduled refresh just published is within the one-hour SLA
    status, age, threshold, _ = verdicts["dashboard_freshness"]
    newest_order = max(o.placed_at for o in sales_source).replace(tzinfo=UTC)
    assert status == "ok" and threshold == timedelta(hours=1).total_seconds()
    assert 0 <= age <= (datetime.fromisoformat(run["end_date"]) - newest_order).total_seconds()
    # AND a breaching check failed its task (red in the grid) and the run, an ok or idle one did not
    for check, (status, *_rest) in verdicts.items():
        assert tasks[f"check_{check}"] == ("failed" if status == "breach" else "success"), (check, status)
    breaching = [c for c, (status, *_rest) in verdicts.items() if status == "breach"]
    assert run["state"] == ("failed" if breaching else "success"), verdicts
    # AND every alert the run decided on reached the SNS topic, naming its check
    for check, (_status, _value, _threshold, alert) in verdicts.items():
        if alert is not None:
            assert alerts_queue.wait_for(lambda n, check=check: f" {check}: " in n.get("Subject", "")), (check, alert)
