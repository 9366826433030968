"""What each kind of session gets back, checked against the model's own vectors (the synthetic `v1`): a known
customer, an unknown one, an empty history, a cart only, a 500-item history (capped), hostile strings."""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
import pytest
from firehose_events import CUSTOMERS, PRODUCTS, decoded, event_json, firehose_event, invoke, item

from dataplatform.serving.models import HISTORY_CAP

pytestmark = pytest.mark.stack
K = 10


def answer_one(handler_module, payload: Any) -> dict[str, Any]:
    answer = invoke(handler_module, firehose_event([payload]))
    (out,) = answer.response["records"]
    assert out["result"] == "Ok", answer.rejected
    return decoded(out)


def exact_profile(vector_db, customer: int, exclude: set[str], version: str = "v1") -> list[tuple[str, float]]:
    items, users = vector_db.vectors(version)
    scores = sorted(((code, float(np.dot(users[customer], v))) for code, v in items.items() if code not in exclude),
                    key=lambda pair: -pair[1])
    return scores[:K]


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(1 - np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def assert_similar_items_are_true_neighbours(record: dict[str, Any], vector_db, version: str = "v1") -> None:
    items, _ = vector_db.vectors(version)
    browsed = {i["product_code"] for i in record["browse_history"]}
    seen: set[str] = set()
    for entry in record["similar_items"]:
        assert entry["product_code"] in browsed
        for neighbour in entry["similar_items"]:
            assert neighbour["id"] not in browsed  # never an item back to itself (or to another browsed one)
            assert neighbour["id"] not in seen  # merged and de-duplicated across entries
            seen.add(neighbour["id"])
            expected = cosine_distance(items[entry["product_code"]], items[neighbour["id"]])
            assert neighbour["distance"] == pytest.approx(expected, abs=1e-4)


def test_known_customer_gets_the_exact_top_items_by_the_models_score(handler_module, vector_db) -> None:
    history = [item(PRODUCTS[3], cart=True), item(PRODUCTS[40]), item(PRODUCTS[41], "2")]
    record = answer_one(handler_module, event_json(CUSTOMERS[5], history=history))
    got = [(r["id"], r["score"]) for r in record["recommended_items"]]
    expected = exact_profile(vector_db, CUSTOMERS[5], exclude={PRODUCTS[3]})
    assert [code for code, _ in got] == [code for code, _ in expected]
    assert [score for _, score in got] == pytest.approx([score for _, score in expected], abs=1e-4)
    assert record["similar_items"][0]["product_code"] == PRODUCTS[3]  # cart first
    assert_similar_items_are_true_neighbours(record, vector_db)
    assert record["fallback"] is False


def test_unknown_customer_is_answered_with_the_countrys_popular_products(handler_module, vector_db) -> None:
    record = answer_one(handler_module, event_json(987_654, city="Reykjavík", country="France",
                                                   history=[item(PRODUCTS[7])]))
    with psycopg.connect(vector_db.conninfo) as conn:
        popular = [code for (code,) in conn.execute(
            "SELECT product_code FROM popular_products WHERE country = 'France' ORDER BY rank LIMIT %s", (K,))]
    # no stored vector and no user-feature model for this synthetic version: the popular fallback, flagged
    assert record["fallback"] is True and record["fallback_reason"] == "no_user_vector"
    assert [r["id"] for r in record["recommended_items"]] == popular
    assert record["model_version"] == "v1"
    assert_similar_items_are_true_neighbours(record, vector_db)  # still answered from the model


def test_empty_history_gets_profile_items_and_no_similar_items(handler_module, vector_db) -> None:
    record = answer_one(handler_module, event_json(CUSTOMERS[9], history=[]))
    assert record["browse_history"] == [] and record["similar_items"] == []
    assert [r["id"] for r in record["recommended_items"]] == \
        [code for code, _ in exact_profile(vector_db, CUSTOMERS[9], exclude=set())]


def test_cart_only_excludes_the_cart_and_answers_similar_items_for_it(handler_module, vector_db) -> None:
    cart = [PRODUCTS[10], PRODUCTS[11], PRODUCTS[12]]
    record = answer_one(handler_module, event_json(CUSTOMERS[2], history=[item(c, "1", cart=True) for c in cart]))
    recommended = [r["id"] for r in record["recommended_items"]]
    assert not set(recommended) & set(cart)
    assert recommended == [code for code, _ in exact_profile(vector_db, CUSTOMERS[2], exclude=set(cart))]
    assert [e["product_code"] for e in record["similar_items"]] == cart
    assert all(e["similar_items"] for e in record["similar_items"])
    assert_similar_items_are_true_neighbours(record, vector_db)


def test_a_500_item_history_is_capped_and_keeps_the_cart(handler_module, vector_db) -> None:
    history = [item(PRODUCTS[i % len(PRODUCTS)], "1", cart=i in (0, 250, 499)) for i in range(500)]
    record = answer_one(handler_module, event_json(CUSTOMERS[3], history=history))
    assert len(record["browse_history"]) == HISTORY_CAP
    assert record["history_dropped"] == 500 - HISTORY_CAP
    kept_cart = [i["product_code"] for i in record["browse_history"] if i["in_shopping_cart"]]
    assert kept_cart == [PRODUCTS[0], PRODUCTS[250 % len(PRODUCTS)], PRODUCTS[499 % len(PRODUCTS)]]
    assert record["browse_history"][-1]["product_code"] == PRODUCTS[499 % len(PRODUCTS)]  # the most recent kept
    assert_similar_items_are_true_neighbours(record, vector_db)


HOSTILE_CITIES = [
    "'; DROP TABLE model_versions; --",
    "Robert'); DELETE FROM popular_products; --",
    "<script>alert('x')</script>",
    "{{ 7*7 }} ${jndi:ldap://x/a}",
    "Zu\u0308rich \u202eevil",
    "大阪 🏯 Ōsaka",
    'quote " and backslash \\',
]


@pytest.mark.parametrize("city", HOSTILE_CITIES)
def test_hostile_city_strings_are_answered_and_echoed_unchanged(handler_module, vector_db, city: str) -> None:
    record = answer_one(handler_module, event_json(CUSTOMERS[4], city=city, country=city[:40],
                                                   history=[item(PRODUCTS[1])]))
    assert record["city"] == city and record["country"] == city[:40]
    with psycopg.connect(vector_db.conninfo) as conn:  # nothing was executed from the strings
        assert conn.execute("SELECT count(*) FROM model_versions").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM popular_products").fetchone()[0] > 0


@pytest.mark.parametrize("code", [
    "S10_1000'; DROP TABLE model_versions; --",
    "S10_1000' OR '1'='1",
    "../../etc/passwd",
    "S10_1000\u0000",
    "S10_1000%",
])
def test_hostile_product_codes_are_processing_failed_and_touch_nothing(handler_module, vector_db, code: str) -> None:
    answer = invoke(handler_module, firehose_event([event_json(CUSTOMERS[4], history=[item(code)])]))
    (out,) = answer.response["records"]
    assert out["result"] == "ProcessingFailed"
    (logged,) = answer.rejected.values()
    assert logged["reason"] == "invalid_event" and "browse_history.0.product_code" in logged["detail"]
    with psycopg.connect(vector_db.conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM model_versions").fetchone()[0] == 2


def test_a_well_formed_code_the_catalogue_lacks_gets_no_similar_items(handler_module, vector_db) -> None:
    record = answer_one(handler_module, event_json(CUSTOMERS[6], history=[item("S99_9999"), item(PRODUCTS[20])]))
    by_code = {e["product_code"]: e["similar_items"] for e in record["similar_items"]}
    assert by_code.get("S99_9999", []) == []
    assert by_code[PRODUCTS[20]]
