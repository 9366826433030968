"""Malformed user-activity records, as real streams carry them: one payload builder per kind.

The generator mixes them into the stream at a configurable share; the transformation Lambda's tests use
the same corpus (each kind with the reason it must be rejected for), so a kind added here is a kind tested.
Builders are functions because some payloads are large.
"""

from __future__ import annotations

import json
from collections.abc import Callable

GOOD: dict[str, object] = {
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
"""The spec's sample event: every malformed kind is this with one thing broken."""


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _without(field: str) -> Callable[[], bytes]:
    return lambda: _json({k: v for k, v in GOOD.items() if k != field})


def _with(**fields: object) -> Callable[[], bytes]:
    return lambda: _json({**GOOD, **fields})


def _item(**fields: object) -> Callable[[], bytes]:
    return lambda: _json({**GOOD, "browse_history": [{**GOOD["browse_history"][0], **fields}]})  # type: ignore[index]


def _item_without(field: str) -> Callable[[], bytes]:
    item = {k: v for k, v in GOOD["browse_history"][0].items() if k != field}  # type: ignore[index]
    return lambda: _json({**GOOD, "browse_history": [item]})


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


CORPUS: dict[str, Callable[[], bytes]] = {
    # --- not an event at all --------------------------------------------------------------------------
    "empty": lambda: b"",
    "whitespace": lambda: b"  \n\t ",
    "not_utf8": lambda: b"\xff\xfe\x00{\"customer_number\": 1}",
    "binary_garbage": lambda: bytes(range(256)),
    "plain_text": lambda: b"hello from the platform",
    "truncated_json": lambda: _json(GOOD)[:-7],
    "xml": lambda: b"<event><customer_number>141</customer_number></event>",
    "csv_line": lambda: b"3f0d8a52,141,Madrid,Spain,227600",
    "trailing_garbage": lambda: _json(GOOD) + b" }",
    "two_events_in_one": lambda: _json(GOOD) + b"\n" + _json(GOOD),
    "nan_literal": lambda: _json(GOOD).replace(b"227600", b"NaN"),
    "infinity_literal": lambda: _json(GOOD).replace(b"227600", b"Infinity"),
    "duplicate_key": lambda: _json(GOOD)[:-1] + b', "customer_number": 999}',
    "deep_nesting": lambda: _nested(100_000),
    "json_array": lambda: _json([GOOD]),
    "json_string": lambda: _json(json.dumps(GOOD)),
    "json_number": lambda: b"141",
    "json_null": lambda: b"null",
    # --- absurd sizes -----------------------------------------------------------------------------------
    "oversized_record": lambda: _json({**GOOD, "padding": "x" * 900_000}),
    "huge_city": _with(city="M" * 200_000),
    "huge_history": _with(browse_history=[GOOD["browse_history"][0]] * 1_500),  # type: ignore[index]
    "huge_integer": _with(customer_number=10**400),
    "huge_credit_limit": _with(credit_limit=1e300),
    "integer_too_long": lambda: _json(GOOD).replace(b"227600", b"9" * 5_000),
    # --- missing fields -----------------------------------------------------------------------------------
    "missing_session_id": _without("session_id"),
    "missing_customer_number": _without("customer_number"),
    "missing_city": _without("city"),
    "missing_country": _without("country"),
    "missing_credit_limit": _without("credit_limit"),
    "missing_browse_history": _without("browse_history"),
    "missing_product_code": _item_without("product_code"),
    "missing_quantity": _item_without("quantity"),
    "missing_in_shopping_cart": _item_without("in_shopping_cart"),
    "empty_object": lambda: b"{}",
    # --- wrong types ---------------------------------------------------------------------------------------
    "customer_number_text": _with(customer_number="one-four-one"),
    "customer_number_fraction": _with(customer_number=141.5),
    "customer_number_boolean": _with(customer_number=True),
    "customer_number_null": _with(customer_number=None),
    "customer_number_negative": _with(customer_number=-141),
    "session_id_number": _with(session_id=12345),
    "city_list": _with(city=["Madrid"]),
    "country_object": _with(country={"name": "Spain"}),
    "credit_limit_text": _with(credit_limit="a lot"),
    "credit_limit_negative": _with(credit_limit=-5),
    "browse_history_object": _with(browse_history={"product_code": "S18_3232"}),
    "browse_history_string": _with(browse_history="S18_3232,S24_2300"),
    "history_item_string": _with(browse_history=["S18_3232"]),
    "history_item_null": _with(browse_history=[None]),
    "product_code_number": _item(product_code=3232),
    "product_code_empty": _item(product_code=""),
    "quantity_not_a_number": _item(quantity="two"),
    "quantity_zero": _item(quantity="0"),
    "quantity_negative": _item(quantity="-3"),
    "in_shopping_cart_text": _item(in_shopping_cart="maybe"),
    # --- hostile strings that cannot be a product code -------------------------------------------------------
    "product_code_sql": _item(product_code="S18_3232'; DROP TABLE item_embeddings; --"),
    "product_code_control_chars": _item(product_code="S18\x00_3232\r\n"),
    "product_code_overlong": _item(product_code="S" * 10_000),
}
