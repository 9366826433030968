"""Which order times a dashboard refresh reads (pure logic)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dataplatform.freshness.models import RefreshWindow
from dataplatform.freshness.refresh_window import InvalidRefreshRange, plan, slices

T = datetime(2026, 11, 30, 14, 37, 12, tzinfo=UTC)


def test_incremental_window_starts_the_late_data_hours_before_the_watermark_on_a_whole_hour() -> None:
    window = plan(watermark=T, late_data_hours=3)
    assert (window.kind, window.since, window.until) == ("incremental", datetime(2026, 11, 30, 11, tzinfo=UTC), None)
    assert window.watermark == T


def test_first_run_reads_the_whole_history() -> None:
    assert plan(watermark=None, late_data_hours=3) == RefreshWindow(kind="initial", since=None, until=None,
                                                                   watermark=None)


def test_backfill_covers_whole_utc_days_inclusive_and_keeps_the_watermark() -> None:
    window = plan(watermark=T, late_data_hours=3, start_date=date(2026, 10, 1), end_date=date(2026, 10, 3))
    assert window.kind == "backfill" and window.watermark == T
    assert (window.since, window.until) == (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC))


@pytest.mark.parametrize(("start", "end", "message"), [
    (date(2026, 10, 1), None, "needs both"),
    (None, date(2026, 10, 1), "needs both"),
    (date(2026, 10, 2), date(2026, 10, 1), "before start_date"),
])
def test_a_range_that_is_not_one_is_refused(start, end, message) -> None:
    with pytest.raises(InvalidRefreshRange, match=message):
        plan(watermark=None, late_data_hours=3, start_date=start, end_date=end)


def test_an_incremental_window_is_one_open_slice() -> None:
    window = plan(watermark=T, late_data_hours=3)
    assert slices(window, oldest=datetime(2024, 1, 1, tzinfo=UTC), newest=T, slice_days=7) == [
        (datetime(2026, 11, 30, 11, tzinfo=UTC), None)]


def test_the_whole_history_is_read_in_slices_from_the_first_orders_day_the_last_one_open() -> None:
    window = plan(watermark=None, late_data_hours=3)
    oldest, newest = datetime(2026, 11, 9, 8, 5, tzinfo=UTC), datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert slices(window, oldest=oldest, newest=newest, slice_days=7) == [
        (datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)),
        (datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)),
        (datetime(2026, 11, 23, tzinfo=UTC), None),
    ]


def test_a_backfill_is_sliced_within_its_days_and_closed() -> None:
    window = plan(watermark=None, late_data_hours=3, start_date=date(2026, 10, 1), end_date=date(2026, 10, 10))
    assert slices(window, oldest=None, newest=None, slice_days=7) == [
        (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC)),
        (datetime(2026, 10, 8, tzinfo=UTC), datetime(2026, 10, 11, tzinfo=UTC)),
    ]


def test_a_source_without_orders_is_one_open_slice() -> None:
    window = plan(watermark=None, late_data_hours=3)
    [(start, end)] = slices(window, oldest=None, newest=None, slice_days=7)
    assert end is None and start.year == 1970
