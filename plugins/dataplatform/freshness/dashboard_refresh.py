"""One dashboard refresh's steps that touch both databases: plan the window, stage it. Plain Python (the MySQL
hook and the psycopg connection are passed in); publishing is `sales_table.publish`.

Where the aggregation happens was measured (bench/dashboard_freshness.py): the replica joins and filters by an
index range on `orders.orderTimestamp`, the task groups the lines with pandas. The lines' own totals come from the
same read, so the data-quality check "revenue equals the sum of its lines" compares the staged aggregate with
what was actually read, never with a second read that a late insert could have changed in between.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from typing import Any

from dataplatform.freshness import refresh_window, sales_aggregate, sales_extract, sales_table
from dataplatform.freshness.models import RefreshWindow, StagedWindow


def plan(pg: Any, *, late_data_hours: int, start_date: str | None, end_date: str | None) -> RefreshWindow:
    """This run's window from the watermark in PostgreSQL and the run's params (ISO dates or None)."""
    def day(text: str | None) -> date | None:
        try:
            return date.fromisoformat(text) if text else None
        except ValueError as exc:
            raise refresh_window.InvalidRefreshRange(f"not a date (YYYY-MM-DD): {text!r}") from exc

    return refresh_window.plan(watermark=sales_table.watermark(pg), late_data_hours=late_data_hours,
                               start_date=day(start_date), end_date=day(end_date))


def stage(source: Any, pg: Any, window: RefreshWindow, *, slice_days: int) -> StagedWindow:
    """Read the window's order lines slice by slice (`source`: a common-sql hook of the replica), aggregate each
    slice, write the result to the stage table; returns what was staged and the lines' totals."""
    oldest, newest = sales_extract.event_range(source)
    bounds = refresh_window.slices(window, oldest=oldest, newest=newest, slice_days=slice_days)
    parts, sums = [], []
    extract_seconds = aggregate_seconds = 0.0
    for start, end in bounds:
        began = time.perf_counter()
        lines = sales_extract.fetch_lines(source, start, end)
        read = time.perf_counter()
        parts.append(sales_aggregate.aggregate(lines))
        sums.append(sales_aggregate.totals(lines))
        extract_seconds += read - began
        aggregate_seconds += time.perf_counter() - read
    groups = sales_aggregate.combine(parts)
    sales_table.write_stage(pg, groups)
    newest_read = max((t.newest_event_at for t in sums if t.newest_event_at), default=None)
    return StagedWindow(
        window=window, lines=sum(t.lines for t in sums), units=sum(t.units for t in sums),
        line_revenue=Decimal(sum(t.revenue_cents for t in sums)).scaleb(-2), groups=len(groups),
        newest_event_at=newest_read, slices=len(bounds), extract_seconds=round(extract_seconds, 3),
        aggregate_seconds=round(aggregate_seconds, 3),
    )
