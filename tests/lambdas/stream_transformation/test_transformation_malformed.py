"""Malformed records are ProcessingFailed, one by one, with the reason logged; the batch around them is answered.

The corpus is `devstack.streaming.malformed.CORPUS` (the generator streams the same records locally), plus the
ways a Firehose record's own `data` can be broken. Every kind is in one batch with well-formed events around
it, as on the stream; each kind is asserted on its own (table-driven), naming the expected reason code and the
detail (usually the field) that must appear in the log.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from firehose_events import CUSTOMERS, PRODUCTS, Answer, event_json, firehose_event, invoke, item

from devstack.streaming.malformed import CORPUS

pytestmark = pytest.mark.stack

EXPECTED: dict[str, tuple[str, str]] = {
    # kind: (reason code, a detail the log must carry)
    "empty": ("empty", "nothing"),
    "whitespace": ("empty", "nothing"),
    "not_utf8": ("not_utf8", "byte 0"),
    "binary_garbage": ("not_utf8", "not UTF-8"),
    "plain_text": ("not_json", "Expecting value"),
    "truncated_json": ("not_json", "line 1"),
    "xml": ("not_json", "Expecting value"),
    "csv_line": ("not_json", "Extra data"),
    "trailing_garbage": ("not_json", "Extra data"),
    "two_events_in_one": ("not_json", "Extra data"),
    "nan_literal": ("not_json", "NaN is not a JSON number"),
    "infinity_literal": ("not_json", "Infinity is not a JSON number"),
    "duplicate_key": ("duplicate_key", "'customer_number'"),
    "deep_nesting": ("not_json", "nested too deeply"),
    "json_array": ("not_an_object", "list"),
    "json_string": ("not_an_object", "str"),
    "json_number": ("not_an_object", "int"),
    "json_null": ("not_an_object", "NoneType"),
    "oversized_record": ("too_large", "bytes"),
    "huge_city": ("invalid_event", "city"),
    "huge_history": ("invalid_event", "browse_history"),
    "huge_integer": ("invalid_event", "customer_number"),
    "integer_too_long": ("not_json", "digits"),
    "huge_credit_limit": ("invalid_event", "credit_limit"),
    "missing_session_id": ("invalid_event", "session_id: Field required"),
    "missing_customer_number": ("invalid_event", "customer_number: Field required"),
    "missing_city": ("invalid_event", "city: Field required"),
    "missing_country": ("invalid_event", "country: Field required"),
    "missing_credit_limit": ("invalid_event", "credit_limit: Field required"),
    "missing_browse_history": ("invalid_event", "browse_history: Field required"),
    "missing_product_code": ("invalid_event", "browse_history.0.product_code: Field required"),
    "missing_quantity": ("invalid_event", "browse_history.0.quantity: Field required"),
    "missing_in_shopping_cart": ("invalid_event", "browse_history.0.in_shopping_cart: Field required"),
    "empty_object": ("invalid_event", "session_id: Field required"),
    "customer_number_text": ("invalid_event", "customer_number"),
    "customer_number_fraction": ("invalid_event", "customer_number"),
    "customer_number_boolean": ("invalid_event", "customer_number"),
    "customer_number_null": ("invalid_event", "customer_number"),
    "customer_number_negative": ("invalid_event", "customer_number"),
    "session_id_number": ("invalid_event", "session_id"),
    "city_list": ("invalid_event", "city"),
    "country_object": ("invalid_event", "country"),
    "credit_limit_text": ("invalid_event", "credit_limit"),
    "credit_limit_negative": ("invalid_event", "credit_limit"),
    "browse_history_object": ("invalid_event", "browse_history"),
    "browse_history_string": ("invalid_event", "browse_history"),
    "history_item_string": ("invalid_event", "browse_history.0"),
    "history_item_null": ("invalid_event", "browse_history.0"),
    "product_code_number": ("invalid_event", "browse_history.0.product_code"),
    "product_code_empty": ("invalid_event", "browse_history.0.product_code"),
    "quantity_not_a_number": ("invalid_event", "browse_history.0.quantity"),
    "quantity_zero": ("invalid_event", "browse_history.0.quantity"),
    "quantity_negative": ("invalid_event", "browse_history.0.quantity"),
    "in_shopping_cart_text": ("invalid_event", "browse_history.0.in_shopping_cart"),
    "product_code_sql": ("invalid_event", "browse_history.0.product_code"),
    "product_code_control_chars": ("invalid_event", "browse_history.0.product_code"),
    "product_code_overlong": ("invalid_event", "browse_history.0.product_code"),
}
FIREHOSE_DATA: dict[str, tuple[Any, str, str]] = {
    # kind: (the record's `data` field as Firehose would carry it, reason code, detail)
    "data_not_base64": ("{not base64!}", "not_base64", "not base64"),
    "data_bad_padding": ("eyJ", "not_base64", "not base64"),
    "data_null": (None, "not_base64", "NoneType"),
    "data_number": (12345, "not_base64", "int"),
    "data_oversized_base64": (base64.b64encode(b"{" + b" " * 400_000 + b"}").decode(), "too_large", "bytes"),
}
KINDS = sorted(CORPUS) + sorted(FIREHOSE_DATA)


def test_the_corpus_is_large_and_every_kind_has_an_expectation() -> None:
    assert set(EXPECTED) == set(CORPUS), "a corpus kind without an expected reason (or the reverse)"
    assert len(KINDS) >= 40


@pytest.fixture(scope="module")
def answered(handler_module) -> tuple[dict[str, Any], Answer]:
    """One batch: a well-formed event, then each malformed kind followed by a well-formed event."""
    payloads: list[Any] = [_good(0)]
    for n, kind in enumerate(KINDS, start=1):
        payloads += [CORPUS[kind]() if kind in CORPUS else b"replaced below", _good(n)]
    event = firehose_event(payloads)
    for n, kind in enumerate(KINDS):
        if kind in FIREHOSE_DATA:
            event["records"][1 + 2 * n]["data"] = FIREHOSE_DATA[kind][0]
    return event, invoke(handler_module, event)


def _good(n: int) -> dict[str, Any]:
    return event_json(CUSTOMERS[n % len(CUSTOMERS)], history=[item(PRODUCTS[n], "1", cart=n % 2 == 0)])


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_record_is_processing_failed_with_its_reason(
        kind: str, answered: tuple[dict[str, Any], Answer]) -> None:
    event, answer = answered
    position = 1 + 2 * KINDS.index(kind)
    record_id = event["records"][position]["recordId"]
    out = answer.response["records"][position]
    assert out["recordId"] == record_id
    assert out["result"] == "ProcessingFailed"
    code, detail = EXPECTED[kind] if kind in EXPECTED else FIREHOSE_DATA[kind][1:]
    logged = answer.rejected[record_id]
    assert logged["reason"] == code, logged
    assert detail in logged["detail"], logged
    assert len(logged["detail"]) <= 300  # a hostile payload never floods the log


def test_well_formed_neighbours_of_malformed_records_are_ok(answered: tuple[dict[str, Any], Answer]) -> None:
    _, answer = answered
    results = [r["result"] for r in answer.response["records"]]
    assert results[0::2] == ["Ok"] * (len(KINDS) + 1)
    assert "Dropped" not in results
    assert len(answer.rejected) == len(KINDS)
