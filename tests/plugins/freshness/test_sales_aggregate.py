"""Order lines to hour x country x product line (pure pandas)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from dataplatform.freshness.sales_aggregate import COLUMNS, aggregate, combine, totals


def lines(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["order_number", "ordered_at", "country", "product_line", "units",
                                       "price_cents"])


SAMPLE = lines(
    (1, datetime(2026, 11, 30, 9, 5), "Spain", "Ships", 10, 1999),
    (1, datetime(2026, 11, 30, 9, 5), "Spain", "Ships", 2, 5000),     # same order, another product of the line
    (2, datetime(2026, 11, 30, 9, 59, 59), "Spain", "Ships", 1, 1),
    (3, datetime(2026, 11, 30, 10, 0), "Spain", "Ships", 4, 250),      # the next hour
    (4, datetime(2026, 11, 30, 9, 30), "France", "Planes", 3, 333),
)


def test_one_row_per_hour_country_and_line_with_distinct_orders_units_exact_revenue_and_newest_time() -> None:
    out = aggregate(SAMPLE)
    assert list(out.columns) == COLUMNS
    rows = {(r.order_hour.to_pydatetime(), r.country, r.product_line): r for r in out.itertuples()}
    ships_9 = rows[(datetime(2026, 11, 30, 9), "Spain", "Ships")]
    assert (ships_9.orders, ships_9.units, ships_9.revenue_cents) == (2, 13, 10 * 1999 + 2 * 5000 + 1)
    assert ships_9.last_event_at.to_pydatetime() == datetime(2026, 11, 30, 9, 59, 59)
    assert rows[(datetime(2026, 11, 30, 10), "Spain", "Ships")].orders == 1
    assert rows[(datetime(2026, 11, 30, 9), "France", "Planes")].revenue_cents == 999
    assert len(out) == 3


def test_lines_without_a_country_or_line_are_kept_so_the_checks_see_them() -> None:
    out = aggregate(lines((9, datetime(2026, 11, 30, 9, 5), None, "Ships", 5, 100)))
    assert len(out) == 1 and out.iloc[0]["units"] == 5 and pd.isna(out.iloc[0]["country"])


def test_totals_are_the_lines_own_sums_and_newest_time() -> None:
    t = totals(SAMPLE)
    assert (t.lines, t.units, t.revenue_cents) == (5, 20, 10 * 1999 + 2 * 5000 + 1 + 4 * 250 + 3 * 333)
    assert str(t.revenue) == "319.90"
    assert t.newest_event_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert int(aggregate(SAMPLE)["revenue_cents"].sum()) == t.revenue_cents


def test_no_lines_give_an_empty_aggregate_and_zero_totals() -> None:
    empty = lines()
    assert aggregate(empty).empty and list(aggregate(empty).columns) == COLUMNS
    assert totals(empty).revenue_cents == 0 and totals(empty).newest_event_at is None


def test_slices_combine_by_concatenation() -> None:
    first, second = SAMPLE.iloc[:3], SAMPLE.iloc[3:]
    combined = combine([aggregate(first), aggregate(lines()), aggregate(second)])
    assert int(combined["revenue_cents"].sum()) == totals(SAMPLE).revenue_cents
    assert len(combined) == 3
