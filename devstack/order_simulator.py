"""A stand-in for the sales platform: places orders in the local MariaDB source, continuously, while the platform
runs, so `dashboard_sales_refresh` has new sales every 15 minutes and `pipeline_watchdog` judges a live dashboard.

Each order is what the sales platform writes once the announced change `orders.orderTimestamp` is live: an
`orders` row (placed now, UTC; status In Process) and 1-6 `orderdetails` lines (products picked by past sales,
20-50 units at 82-100 % of MSRP), in one transaction, by a customer who has ordered before. A share of orders
arrives late (`--late-share`: placed 5-120 min ago, as an offline till syncs), which the refresh's trailing
window picks up. The source must have `orders.orderTimestamp` (seed with `--order-timestamps`).

    python -m devstack.order_simulator run    [--rate 6] [--duration 3600] [--max-orders 10000] [--late-share 0.05]
    python -m devstack.order_simulator start  [same options]  # in the background: pid in .local/run/
    python -m devstack.order_simulator stop                    # SIGTERM to that process; it finishes its order
    python -m devstack.order_simulator status                  # dashboard freshness (minutes), latest verdicts

`--rate` is orders per minute (Poisson arrivals); a run is always bounded (`--duration`, `--max-orders`) and stops
cleanly on SIGINT/SIGTERM. Local tooling only: nothing under plugins/ imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from devstack import stack
from devstack.connections import SOURCE_DATABASE, StackConnections

PROCESS = "order_simulator"
MAX_ORDERS = 10_000
MAX_DURATION_SECONDS = 24 * 3600


class SimulatorError(RuntimeError):
    """The source cannot take simulated orders; the message says what to do."""


@dataclass(frozen=True)
class PlacedOrder:
    number: int
    placed_at: datetime  # naive UTC, as stored
    customer: int
    lines: int
    units: int
    revenue: float
    late: bool


@dataclass
class Report:
    orders: int = 0
    lines: int = 0
    late: int = 0
    first: datetime | None = None
    last: datetime | None = None
    stopped_by: str = ""
    placed: list[PlacedOrder] = field(default_factory=list, repr=False)

    def add(self, order: PlacedOrder) -> None:
        self.orders += 1
        self.lines += order.lines
        self.late += order.late
        self.first = self.first or order.placed_at
        self.last = order.placed_at
        self.placed.append(order)

    def as_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "lines": self.lines, "late": self.late, "stopped_by": self.stopped_by,
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None}


class OrderSimulator:
    """Places orders in one source database (an admin connection: the sales platform writes the primary)."""

    def __init__(self, conn: Any, *, late_share: float = 0.05, seed: int | None = None) -> None:
        self.conn = conn
        self.late_share = late_share
        self.rng = np.random.default_rng(seed)
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() "
                    "AND table_name = 'orders' AND column_name = 'orderTimestamp'")
        if cur.fetchone()[0] == 0:
            raise SimulatorError(
                "orders.orderTimestamp is missing: the sales platform writes it once the platform team's announced "
                "change is applied. Seed the source with it: python -m devstack.seed --order-timestamps")
        cur.execute("SELECT DISTINCT customerNumber FROM orders ORDER BY customerNumber")
        self.customers = np.array([c for (c,) in cur.fetchall()])
        cur.execute("SELECT p.productCode, p.MSRP, COALESCE(SUM(d.quantityOrdered), 0) + 1 FROM products p "
                    "LEFT JOIN orderdetails d ON d.productCode = p.productCode GROUP BY p.productCode, p.MSRP "
                    "ORDER BY p.productCode")
        rows = cur.fetchall()
        conn.commit()
        if not len(self.customers) or not rows:
            raise SimulatorError("the source has no customers with orders or no products: seed it first")
        self.codes = [code for code, _, _ in rows]
        self.msrp = np.array([float(msrp) for _, msrp, _ in rows])
        weight = np.array([float(sold) for _, _, sold in rows])
        self.weights = weight / weight.sum()

    def place(self, now: datetime | None = None) -> PlacedOrder:
        """One order with its lines, in one transaction."""
        now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
        late = bool(self.rng.random() < self.late_share)
        placed = now - timedelta(minutes=float(self.rng.uniform(5, 120))) if late else now
        placed = placed.replace(microsecond=0)
        customer = int(self.rng.choice(self.customers))
        count = int(self.rng.integers(1, 7))
        picks = self.rng.choice(len(self.codes), size=count, replace=False, p=self.weights)
        quantities = self.rng.integers(20, 51, size=count)
        prices = np.round(self.msrp[picks] * self.rng.uniform(0.82, 1.0, size=count), 2)
        cur = self.conn.cursor()
        try:
            cur.execute("SELECT COALESCE(MAX(orderNumber), 10099) + 1 FROM orders FOR UPDATE")
            (number,) = cur.fetchone()
            cur.execute(
                "INSERT INTO orders (orderNumber, orderDate, orderTimestamp, requiredDate, shippedDate, status, "
                "comments, customerNumber) VALUES (%s, %s, %s, %s, NULL, 'In Process', NULL, %s)",
                (number, placed.date(), placed, placed.date() + timedelta(days=int(self.rng.integers(7, 11))),
                 customer))
            cur.executemany(
                "INSERT INTO orderdetails (orderNumber, productCode, quantityOrdered, priceEach, orderLineNumber) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(number, self.codes[p], int(q), f"{price:.2f}", i + 1)
                 for i, (p, q, price) in enumerate(zip(picks, quantities, prices, strict=True))])
            self.conn.commit()
        except Exception:
            self.conn.rollback()
            raise
        return PlacedOrder(number=int(number), placed_at=placed, customer=customer, lines=count,
                           units=int(quantities.sum()), revenue=float((quantities * prices).sum()), late=late)

    def run(self, *, rate_per_minute: float, duration_seconds: float, max_orders: int,
            should_stop: Callable[[], bool] = lambda: False, clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep, on_order: Callable[[PlacedOrder], None] | None = None
            ) -> Report:
        """Place orders at `rate_per_minute` (exponential gaps) until `duration_seconds`, `max_orders`, or
        `should_stop()`; returns what was placed."""
        if rate_per_minute <= 0:
            raise ValueError("--rate must be positive (orders per minute)")
        report = Report()
        started = clock()
        due = started
        while True:
            if should_stop():
                report.stopped_by = "signal"
                return report
            if report.orders >= max_orders:
                report.stopped_by = "max_orders"
                return report
            now = clock()
            if now - started >= duration_seconds:
                report.stopped_by = "duration"
                return report
            if now < due:
                sleep(min(due - now, 0.5))
                continue
            order = self.place()
            report.add(order)
            if on_order:
                on_order(order)
            due += float(self.rng.exponential(60.0 / rate_per_minute))


# --- the freshness summary (for `status` and the demo) -------------------------------------------------------------


def freshness_summary(connections: StackConnections) -> list[str]:
    """Lines for a person: the dashboard's freshness in minutes, its last refresh, the watchdog's latest verdicts."""
    from dataplatform.freshness import sales_table, verdict_store
    from dataplatform.freshness.verdicts import summary_table

    lines: list[str] = []
    with connections.vector_db(autocommit=True) as pg:
        newest, now = sales_table.dashboard_freshness(pg)
        if newest is None:
            lines.append("dashboard freshness     no data yet (dashboard_sales_refresh has not published)")
        else:
            lines.append(f"dashboard freshness     {(now - newest).total_seconds() / 60:.1f} min "
                         f"(newest order {newest.astimezone(UTC):%H:%M:%S}Z; SLA 60 min)")
        if pg.execute("SELECT to_regclass('analytics.sales_refresh_runs') IS NOT NULL").fetchone()[0]:
            row = pg.execute("SELECT kind, published_at, freshness_seconds, lines, inserted, updated, deleted "
                             "FROM analytics.sales_refresh_runs ORDER BY published_at DESC LIMIT 1").fetchone()
            if row:
                kind, at, fresh, read, ins, upd, dele = row
                achieved = f"{fresh / 60:.1f} min" if fresh is not None else "n/a"
                lines.append(f"last refresh            {kind} at {at.astimezone(UTC):%H:%M:%S}Z, achieved {achieved} "
                             f"({read} lines read; {ins} groups inserted, {upd} updated, {dele} deleted)")
        verdicts = [v for _, v in verdict_store.latest(pg)]
    if verdicts:
        lines.append(f"watchdog verdicts       (newest of each check, {max(v.evaluated_at for v in verdicts):%H:%M}Z)")
        lines += ["  " + line for line in summary_table(verdicts).splitlines()]
    else:
        lines.append("watchdog verdicts       none yet (pipeline_watchdog has not run)")
    return lines


# --- background process ----------------------------------------------------------------------------------------------


def _pid_file(cfg: stack.StackConfig) -> Any:
    return cfg.run_dir / f"{PROCESS}.pid"


def running_pid(cfg: stack.StackConfig) -> int | None:
    """The background simulator's pid, or None when none runs."""
    path = _pid_file(cfg)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        path.unlink(missing_ok=True)
        return None
    return pid


def start_background(cfg: stack.StackConfig, *, rate: float, duration: float, max_orders: int = MAX_ORDERS,
                     late_share: float = 0.05) -> int:
    """Start `run` in the background (idempotent: an already running simulator is kept); returns its pid.
    Output goes to `<state>/run/order_simulator.log`."""
    if (pid := running_pid(cfg)) is not None:
        return pid
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    log = open(cfg.run_dir / f"{PROCESS}.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.order_simulator", "run", "--rate", str(rate), "--duration", str(duration),
         "--max-orders", str(max_orders), "--late-share", str(late_share), "--quiet"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=stack.REPO,
        env={**os.environ, "PYTHONPATH": f"{stack.REPO / 'plugins'}{os.pathsep}{stack.REPO}"})
    _pid_file(cfg).write_text(str(proc.pid))
    return proc.pid


def stop_background(cfg: stack.StackConfig, timeout: float = 15.0) -> bool:
    """SIGTERM the background simulator (it finishes the order in hand); True if one was running."""
    pid = running_pid(cfg)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(cfg) is not None:
        time.sleep(0.2)
    _pid_file(cfg).unlink(missing_ok=True)
    return True


# --- command line ----------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.order_simulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "start"):
        p = sub.add_parser(name, help="place orders" + (" in the background" if name == "start" else ""))
        p.add_argument("--rate", type=float, default=6.0, help="orders per minute (default 6)")
        p.add_argument("--duration", type=float, default=3600.0,
                       help=f"stop after this many seconds (default 3600, at most {MAX_DURATION_SECONDS})")
        p.add_argument("--max-orders", type=int, default=MAX_ORDERS,
                       help=f"stop after this many orders (default {MAX_ORDERS})")
        p.add_argument("--late-share", type=float, default=0.05, help="share of orders arriving 5-120 min late")
        if name == "run":
            p.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
            p.add_argument("--quiet", action="store_true", help="no line per order")
    sub.add_parser("stop", help="stop the background simulator")
    sub.add_parser("status", help="dashboard freshness and the watchdog's latest verdicts")
    args = parser.parse_args(argv)
    cfg = stack.StackConfig.from_env()
    connections = StackConnections(cfg, stack.load_secrets(cfg))
    if args.command in ("run", "start") and not 0 < args.duration <= MAX_DURATION_SECONDS:
        parser.error(f"--duration must be in (0, {MAX_DURATION_SECONDS}] seconds: the simulator is always bounded")
    if args.command == "start":
        pid = start_background(cfg, rate=args.rate, duration=args.duration, max_orders=args.max_orders,
                               late_share=args.late_share)
        print(json.dumps({"pid": pid, "log": str(cfg.run_dir / f"{PROCESS}.log")}))
        return 0
    if args.command == "stop":
        print("stopped" if stop_background(cfg) else "not running")
        return 0
    if args.command == "status":
        print("\n".join(freshness_summary(connections)))
        return 0
    stop = {"requested": False}

    def request_stop(signum: int, _frame: Any) -> None:
        stop["requested"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    conn = connections.source_admin(SOURCE_DATABASE)
    try:
        simulator = OrderSimulator(conn, late_share=args.late_share, seed=args.seed)
    except SimulatorError as exc:
        print(f"order_simulator: {exc}", file=sys.stderr)
        return 2
    try:
        report = simulator.run(
            rate_per_minute=args.rate, duration_seconds=args.duration, max_orders=args.max_orders,
            should_stop=lambda: stop["requested"],
            on_order=None if args.quiet else lambda o: print(
                f"order {o.number} {o.placed_at:%H:%M:%S}Z{' (late)' if o.late else ''}: {o.lines} lines, "
                f"{o.units} units, {o.revenue:,.2f}", flush=True))
    finally:
        conn.close()
    print(json.dumps(report.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
