"""What crosses a task boundary in the two freshness DAGs (XCom payloads), one model per hand-off.

| model | written by | read by |
|---|---|---|
| `RefreshWindow` | `plan_refresh_window` | `stage_sales_window`, `publish_sales_window` |
| `StagedWindow` | `stage_sales_window` | `publish_sales_window`; `line_revenue` also `check_sales_revenue` |
| `RefreshRecord` | `publish_sales_window` | the run's summary, the benchmark, the demo |
| `Verdict` | each `check_<name>` of the watchdog | `summarize_verdicts` |
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from dataplatform.handoffs import Handoff

RefreshKind = Literal["initial", "incremental", "backfill"]
Status = Literal["ok", "breach", "idle"]
AlertKind = Literal["breach", "reminder", "recovery"]


class RefreshWindow(Handoff):
    """The order times one refresh reads and replaces: `[since, until)`, UTC; None = unbounded on that side."""

    kind: RefreshKind
    since: datetime | None
    until: datetime | None
    watermark: datetime | None
    """The newest order time published before this run (None before the first run)."""


class StagedWindow(Handoff):
    """The window's aggregate, written to the stage table, and the totals of the order lines it came from."""

    window: RefreshWindow
    lines: int
    units: int
    line_revenue: Decimal
    """Sum of quantityOrdered x priceEach over the lines read: what the staged revenue must add up to."""
    groups: int
    newest_event_at: datetime | None
    slices: int
    extract_seconds: float
    aggregate_seconds: float


class RefreshRecord(Handoff):
    """One published refresh, as `analytics.sales_refresh_runs` keeps it."""

    run_id: str
    kind: RefreshKind
    since: datetime | None
    until: datetime | None
    lines: int
    groups: int
    inserted: int
    updated: int
    deleted: int
    newest_event_at: datetime | None
    """The newest order time in the dashboard table after this run: what its freshness is measured from."""
    published_at: datetime
    freshness_seconds: float | None
    """published_at minus newest_event_at: how old the dashboard's newest data was when this run finished."""

    @property
    def freshness_minutes(self) -> float | None:
        return None if self.freshness_seconds is None else round(self.freshness_seconds / 60, 1)


class Verdict(Handoff):
    """One check of one watchdog run, as `analytics.watchdog_verdicts` keeps it."""

    check: str
    status: Status
    value: float | None
    threshold: float
    comparison: Literal["above", "below"]
    unit: str
    detail: str
    alert: AlertKind | None = None
    breaching_since: datetime | None = None
    evaluated_at: datetime
