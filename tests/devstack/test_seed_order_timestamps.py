"""The announced additive change in the generator: `orders.orderTimestamp` (devstack/seed.py, opt-in)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow.compute as pc
import pytest

from devstack.seed import TABLES, generate, schema_statements

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def pair() -> tuple[dict, dict]:
    return generate("sample", AS_OF), generate("sample", AS_OF, order_timestamps=True)


def test_the_change_is_additive_every_other_column_is_byte_identical(pair) -> None:
    before, after = pair
    for name in TABLES:
        if name != "orders":
            assert after[name].equals(before[name]), name
    orders = after["orders"]
    assert orders.column_names[:3] == ["orderNumber", "orderDate", "orderTimestamp"]
    assert orders.drop_columns(["orderTimestamp"]).equals(before["orders"])


def test_each_order_is_placed_on_its_order_date_and_mostly_in_business_hours(pair) -> None:
    orders = pair[1]["orders"].to_pydict()
    stamps = orders["orderTimestamp"]
    assert all(ts.date() == day for ts, day in zip(stamps, orders["orderDate"], strict=True))
    assert len({ts.hour for ts in stamps}) == 24  # customers in four territories: every UTC hour sees orders
    assert len(set(stamps)) > 0.95 * len(stamps)


def test_the_same_arguments_give_the_same_timestamps(pair) -> None:
    again = generate("sample", AS_OF, order_timestamps=True)
    assert again["orders"].equals(pair[1]["orders"])


def test_no_order_is_placed_after_now_when_the_history_ends_today() -> None:
    now = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    orders = generate("sample", now.date(), order_timestamps=True, now=now)["orders"]
    newest = pc.max(orders.column("orderTimestamp")).as_py()
    assert newest <= now.replace(tzinfo=None)
    assert newest.date() == now.date()  # today's orders are kept, squeezed into the part of the day that passed


def test_a_history_ending_after_now_is_refused() -> None:
    with pytest.raises(ValueError, match="would be in the future"):
        generate("sample", date(2026, 12, 2), order_timestamps=True, now=datetime(2026, 12, 1, tzinfo=UTC))


def test_the_loader_applies_the_announced_alter_only_when_asked() -> None:
    assert not any("orderTimestamp" in s for s in schema_statements())
    [alter] = [s for s in schema_statements(order_timestamps=True) if "orderTimestamp" in s]
    assert alter.startswith("ALTER TABLE orders") and "idx_orders_orderTimestamp" in alter


@pytest.mark.slow
def test_production_scale_takes_the_change_too() -> None:
    # generation only (~10-20 s, ~1 GB): loading production is the benchmark's job (bench/dashboard_freshness.py)
    now = datetime.now(UTC)
    orders = generate("production", now.date(), order_timestamps=True, now=now)["orders"]
    assert orders.num_rows == 330_000 and orders.column("orderTimestamp").null_count == 0
    day = pc.cast(pc.cast(orders.column("orderTimestamp"), "date32"), "string")
    assert pc.all(pc.equal(day, pc.cast(orders.column("orderDate"), "string"))).as_py()
    assert pc.max(orders.column("orderTimestamp")).as_py() <= now.replace(tzinfo=None)
