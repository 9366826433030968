"""Which order times a dashboard refresh reads (pure logic).

- **incremental** (every scheduled run): from `late_data_hours` before the watermark (the newest order time
  already published), floored to the hour, to now and beyond (no upper bound: an order stamped in the future is
  read, and the data-quality check `check_sales_hours` stops it). Orders that arrive late, or lines that change,
  within that trailing window are re-aggregated; whole hours are replaced, so the result is the same however
  often a window is read.
- **initial** (no watermark yet): the whole history.
- **backfill** (params `start_date`, `end_date`, both inclusive, UTC days): exactly those days; the watermark is
  left alone.

The replica is then read in slices of `slice_days` (`slices`), so memory stays bounded whatever the range.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from dataplatform.freshness.models import RefreshWindow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidRefreshRange(ValueError):
    """The run's params do not describe a date range (deterministic: the run fails without retries)."""


def floor_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def plan(*, watermark: datetime | None, late_data_hours: int, start_date: date | None = None,
         end_date: date | None = None) -> RefreshWindow:
    """The window of this run: a backfill when the params give a range, else incremental (or initial)."""
    if start_date is not None or end_date is not None:
        if start_date is None or end_date is None:
            raise InvalidRefreshRange("a backfill needs both start_date and end_date (inclusive, YYYY-MM-DD); "
                                      f"got start_date={start_date}, end_date={end_date}")
        if end_date < start_date:
            raise InvalidRefreshRange(f"end_date {end_date} is before start_date {start_date}")
        return RefreshWindow(kind="backfill", since=day_start(start_date), until=day_start(end_date + timedelta(1)),
                             watermark=watermark)
    if watermark is None:
        return RefreshWindow(kind="initial", since=None, until=None, watermark=None)
    return RefreshWindow(kind="incremental", since=floor_hour(watermark - timedelta(hours=late_data_hours)),
                         until=None, watermark=watermark)


def slices(window: RefreshWindow, *, oldest: datetime | None, newest: datetime | None,
           slice_days: int) -> list[tuple[datetime, datetime | None]]:
    """`[start, end)` ranges covering the window, `slice_days` long; the last one is open when the window is.

    `oldest` / `newest`: the source's first and last order times (None when it has none), to bound an open window.
    """
    start = window.since or (day_start(oldest.date()) if oldest else EPOCH)
    step = timedelta(days=slice_days)
    out: list[tuple[datetime, datetime | None]] = []
    if window.until is not None:
        while start + step < window.until:
            out.append((start, start + step))
            start += step
        return [*out, (start, window.until)]
    while newest is not None and start + step <= newest:
        out.append((start, start + step))
        start += step
    return [*out, (start, None)]
