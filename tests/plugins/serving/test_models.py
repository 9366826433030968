"""The event and recommendation models: strict, bounded, clear messages (pure, no services)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from dataplatform.serving import models as m

SPEC_EVENT: dict[str, Any] = {
    "session_id": "3f0d8a52-6a1e-4c5e-9b1a-2f7d3c1e9a10",
    "customer_number": 141,
    "city": "Madrid",
    "country": "Spain",
    "credit_limit": 227600,
    "browse_history": [
        {"product_code": "S18_3232", "quantity": "1", "in_shopping_cart": True},
        {"product_code": "S24_2300", "quantity": "2", "in_shopping_cart": False},
    ],
}


def event(**changes: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(SPEC_EVENT)), **changes}


def item(code: str = "S18_3232", quantity: Any = "1", cart: Any = False) -> dict[str, Any]:
    return {"product_code": code, "quantity": quantity, "in_shopping_cart": cart}


def errors(payload: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        m.UserActivityEvent.model_validate(payload)
    return str(caught.value)


def test_the_spec_event_validates_with_quantity_as_an_integer() -> None:
    parsed = m.UserActivityEvent.model_validate(SPEC_EVENT)
    assert parsed.customer_number == 141 and parsed.credit_limit == 227600.0
    assert [(i.product_code, i.quantity, i.in_shopping_cart) for i in parsed.browse_history] == [
        ("S18_3232", 1, True), ("S24_2300", 2, False)]
    assert parsed.cart == ["S18_3232"] and parsed.browsed == ["S18_3232", "S24_2300"]
    assert parsed.history_dropped == 0


@pytest.mark.parametrize("quantity", ["0", "-1", "1.5", "two", "", " 1", "12345", "\u0661", True, 1.0, None, [1]])
def test_quantity_that_is_not_a_positive_whole_number_fails_naming_the_field(quantity: Any) -> None:
    message = errors(event(browse_history=[item(quantity=quantity)]))
    assert "browse_history.0.quantity" in message


@pytest.mark.parametrize(("field", "value"), [
    ("customer_number", "141"), ("customer_number", True), ("customer_number", 0), ("customer_number", 2**31),
    ("customer_number", 1.5), ("credit_limit", "227600"), ("credit_limit", True), ("credit_limit", -1),
    ("credit_limit", float("nan")), ("credit_limit", 1e12), ("city", ""), ("city", 42), ("city", "x" * 81),
    ("city", "Mad\x00rid"), ("city", "Madrid\n"), ("country", None), ("session_id", ""),
    ("session_id", "a" * 65), ("session_id", "'; DROP TABLE x; --"), ("browse_history", "S18_3232"),
    ("browse_history", None),
])
def test_wrong_types_and_out_of_bounds_values_fail_naming_the_field(field: str, value: Any) -> None:
    assert field in errors(event(**{field: value}))


@pytest.mark.parametrize("code", ["", "S18 3232", "S18_3232'; --", "x" * 16, "../etc", "S18_3232\x00", "Ś18", "_S1"])
def test_hostile_product_codes_fail(code: str) -> None:
    assert "product_code" in errors(event(browse_history=[item(code)]))


def test_missing_fields_fail_and_unknown_fields_are_ignored() -> None:
    payload = event()
    del payload["country"]
    assert "country" in errors(payload)
    parsed = m.UserActivityEvent.model_validate(event(device="mobile"))
    assert not hasattr(parsed, "device")


def test_printable_unicode_and_quotes_in_a_city_are_kept() -> None:
    parsed = m.UserActivityEvent.model_validate(event(city="L'Hospitalet \"de\" Llobregat — Ñ 東京"))
    assert parsed.city == "L'Hospitalet \"de\" Llobregat — Ñ 東京"


def test_absurdly_long_history_fails() -> None:
    assert "browse_history" in errors(event(browse_history=[item()] * (m.MAX_HISTORY_ACCEPTED + 1)))


def test_long_history_is_capped_keeping_cart_items_and_the_most_recent_others_in_order() -> None:
    # GIVEN 500 entries, three of them in the cart (one early, two late)
    history = [item(f"S10_{i:04d}", cart=i in (3, 480, 499)) for i in range(500)]
    # WHEN validated
    parsed = m.UserActivityEvent.model_validate(event(browse_history=history))
    # THEN the cap keeps the 3 cart items and the 47 latest others (451..498 but 480), in their original order
    codes = [i.product_code for i in parsed.browse_history]
    assert len(codes) == m.HISTORY_CAP and parsed.history_dropped == 450
    assert codes[0] == "S10_0003" and codes[1:] == [f"S10_{i:04d}" for i in range(451, 500)]
    assert parsed.cart == ["S10_0003", "S10_0480", "S10_0499"]


def test_cart_larger_than_the_cap_keeps_the_latest_cart_items() -> None:
    history = [item(f"S10_{i:04d}", cart=True) for i in range(80)]
    parsed = m.UserActivityEvent.model_validate(event(browse_history=history))
    assert [i.product_code for i in parsed.browse_history] == [f"S10_{i:04d}" for i in range(30, 80)]


def test_browsed_lists_cart_first_then_most_recent_without_repeats() -> None:
    history = [item("A1"), item("B1", cart=True), item("C1"), item("A1"), item("D1", cart=True), item("B1")]
    parsed = m.UserActivityEvent.model_validate(event(browse_history=history))
    assert parsed.cart == ["B1", "D1"]
    assert parsed.browsed == ["B1", "D1", "A1", "C1"]


def test_recommendation_keeps_the_event_fields_and_requires_a_reason_exactly_when_falling_back() -> None:
    fields = dict(m.UserActivityEvent.model_validate(SPEC_EVENT))
    record = m.Recommendation(**fields, recommended_items=[m.RecommendedItem(id="S10_1678", score=0.9)],
                              similar_items=[m.SimilarItems(product_code="S18_3232", similar_items=[
                                  m.SimilarItem(id="S12_1099", distance=0.1)])], model_version="v1")
    dumped = json.loads(record.model_dump_json())
    assert {k: dumped[k] for k in SPEC_EVENT if k != "browse_history"} == {
        k: v for k, v in SPEC_EVENT.items() if k != "browse_history"}
    assert dumped["recommended_items"] == [{"id": "S10_1678", "score": 0.9}]
    assert dumped["similar_items"][0]["similar_items"] == [{"id": "S12_1099", "distance": 0.1}]
    assert dumped["fallback"] is False and dumped["fallback_reason"] is None
    with pytest.raises(ValidationError, match="fallback_reason is set exactly when fallback is true"):
        m.Recommendation(**fields, recommended_items=[], similar_items=[], model_version=None, fallback=True)
