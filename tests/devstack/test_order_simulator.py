"""The order simulator (devstack/order_simulator.py) on the test stack's MariaDB."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from devstack.order_simulator import OrderSimulator, SimulatorError, running_pid

DATABASE = "simulator_test"
pytestmark = pytest.mark.stack


@pytest.fixture
def source(source_db_admin: dict, stack_connections) -> Iterator[Any]:
    """`seed(order_timestamps)`: a sample source in DATABASE, returned as an admin connection to it."""
    from devstack.seed import seed_source

    conns = []

    def seed(order_timestamps: bool = True) -> Any:
        seed_source(**source_db_admin, database=DATABASE, scale="sample", as_of=date(2026, 6, 30),
                    order_timestamps=order_timestamps)
        conns.append(stack_connections.source_admin(DATABASE))
        return conns[-1]

    yield seed
    for conn in conns:
        conn.close()
    admin = stack_connections.source_admin()
    admin.cursor().execute(f"DROP DATABASE IF EXISTS `{DATABASE}`")
    admin.close()


def _scalar(conn: Any, sql: str, args: tuple = ()) -> Any:
    cur = conn.cursor()
    cur.execute(sql, args)
    value = cur.fetchone()[0]
    conn.commit()
    return value


def test_a_source_before_the_announced_change_is_refused_with_what_to_do(source) -> None:
    with pytest.raises(SimulatorError, match=r"orders\.orderTimestamp is missing.*--order-timestamps"):
        OrderSimulator(source(order_timestamps=False))


def test_orders_are_placed_now_with_lines_of_known_customers_and_products(source) -> None:
    conn = source()
    before = _scalar(conn, "SELECT MAX(orderNumber) FROM orders")
    simulator = OrderSimulator(conn, late_share=0.0, seed=7)

    placed = [simulator.place() for _ in range(5)]

    assert [o.number for o in placed] == list(range(before + 1, before + 6))
    now = datetime.now(UTC).replace(tzinfo=None)
    assert all(now - timedelta(seconds=30) <= o.placed_at <= now for o in placed)
    numbers = tuple(o.number for o in placed)
    assert _scalar(conn, "SELECT COUNT(*) FROM orderdetails WHERE orderNumber IN %s", (numbers,)) == \
        sum(o.lines for o in placed)
    assert _scalar(conn, "SELECT SUM(quantityOrdered) FROM orderdetails WHERE orderNumber IN %s", (numbers,)) == \
        sum(o.units for o in placed)
    orphans = ("SELECT COUNT(*) FROM orders o LEFT JOIN customers c ON c.customerNumber = o.customerNumber "
               "WHERE o.orderNumber IN %s AND c.customerNumber IS NULL")
    assert _scalar(conn, orphans, (numbers,)) == 0
    assert _scalar(conn, "SELECT COUNT(*) FROM orders WHERE orderNumber IN %s AND orderDate = DATE(orderTimestamp) "
                   "AND status = 'In Process'", (numbers,)) == 5


def test_late_orders_are_placed_up_to_two_hours_back(source) -> None:
    simulator = OrderSimulator(source(), late_share=1.0, seed=3)

    order = simulator.place()

    age = datetime.now(UTC).replace(tzinfo=None) - order.placed_at
    assert order.late and timedelta(minutes=5) <= age <= timedelta(minutes=121)


def test_a_run_is_bounded_by_its_count_its_duration_and_a_stop_request(source) -> None:
    simulator = OrderSimulator(source(), seed=11)
    clock = {"t": 0.0}

    def sleep(seconds: float) -> None:
        clock["t"] += seconds

    by_count = simulator.run(rate_per_minute=60, duration_seconds=3600, max_orders=4, clock=lambda: clock["t"],
                             sleep=sleep)
    assert (by_count.orders, by_count.stopped_by) == (4, "max_orders")

    clock["t"] = 0.0
    by_time = simulator.run(rate_per_minute=6, duration_seconds=120, max_orders=1000, clock=lambda: clock["t"],
                            sleep=sleep)
    assert by_time.stopped_by == "duration" and 1 <= by_time.orders <= 40  # ~12 expected in 2 min at 6/min

    stopped = simulator.run(rate_per_minute=60, duration_seconds=3600, max_orders=1000, should_stop=lambda: True)
    assert (stopped.orders, stopped.stopped_by) == (0, "signal")


def test_cli_runs_in_the_background_until_stopped(source_db_admin, stack_connections) -> None:
    """The demo's call: `start` (background, pid file), orders appear, `stop` ends it cleanly with its report."""
    from devstack import stack
    from devstack.seed import seed_source

    seed_source(**source_db_admin, scale="sample", as_of=datetime.now(UTC).date(), order_timestamps=True)
    cfg = stack.StackConfig.from_env()
    cli = [sys.executable, "-m", "devstack.order_simulator"]
    try:
        started = json.loads(subprocess.run([*cli, "start", "--rate", "240", "--duration", "120"], check=True,
                                            capture_output=True, text=True).stdout)
        assert running_pid(cfg) == started["pid"]
        conn = stack_connections.source_admin("classicmodels")
        deadline = time.monotonic() + 60
        while _scalar(conn, "SELECT COUNT(*) FROM orders WHERE orderTimestamp >= UTC_TIMESTAMP() - INTERVAL 1 MINUTE "
                      "AND status = 'In Process' AND comments IS NULL") < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        conn.close()

        assert subprocess.run([*cli, "stop"], check=True, capture_output=True, text=True).stdout.strip() == "stopped"
        assert running_pid(cfg) is None
        report = json.loads((cfg.run_dir / "order_simulator.log").read_text().strip().splitlines()[-1])
        assert report["stopped_by"] == "signal" and report["orders"] >= 3
    finally:
        subprocess.run([*cli, "stop"], capture_output=True)
        seed_source(**source_db_admin, scale="sample")
