"""The model-inference Lambda, invoked as Lambda would: direct invoke and function URL (payload 2.0) events from
`lambdas/model_inference/events/`, on the real pgvector and moto of the local stack."""

from __future__ import annotations

import json
import secrets
import socket
import time
from datetime import date

import pytest

from dataplatform.batch import popular_products
from tests.lambdas.model_inference.conftest import cold_start, sample

pytestmark = pytest.mark.stack


def ids(items: list[dict]) -> list[str]:
    return [i["id"] for i in items]


def test_direct_invoke_of_the_spec_event_returns_its_recommendation_record(handler_module, context, deployment):
    event = sample("direct_spec_event.json")
    record = handler_module.handler(event, context)
    # the event's fields, unchanged but for quantity now a number
    assert {k: record[k] for k in ("session_id", "customer_number", "city", "country", "credit_limit")} == {
        k: event[k] for k in ("session_id", "customer_number", "city", "country", "credit_limit")}
    assert [(h["product_code"], h["quantity"]) for h in record["browse_history"]] == [("S18_3232", 1), ("S24_2300", 2)]
    # profile: the customer's own vector, best first, the cart item left out
    expected = deployment.model.exact_top(deployment.model.vector_of(141), 10, exclude={"S18_3232"})
    assert len(set(ids(record["recommended_items"])) & set(expected)) >= 9
    assert "S18_3232" not in ids(record["recommended_items"])
    # similar: the cart item first, then the browsed one; never a browsed item, never twice
    assert [s["product_code"] for s in record["similar_items"]] == ["S18_3232", "S24_2300"]
    suggested = [i for s in record["similar_items"] for i in ids(s["similar_items"])]
    assert len(suggested) == len(set(suggested)) == 10 and not {"S18_3232", "S24_2300"} & set(suggested)
    assert (record["model_version"], record["fallback"], record["fallback_reason"]) == ("v1", False, None)


def test_direct_invoke_for_an_unknown_customer_uses_the_user_feature_model(deployment, context) -> None:
    module = cold_start({"DATAPLATFORM_VECTOR_DSN": deployment.conninfo})
    event = sample("direct_unknown_customer.json")
    record = module.handler(event, context)
    assert not record["fallback"] and record["model_version"] == "v1"
    vector = deployment.model.features.predict("Lyon", "France", 45000.5)
    assert len(set(ids(record["recommended_items"])) & set(
        deployment.model.exact_top(vector, 10, exclude={"S12_1099"}))) >= 9


def test_direct_invoke_of_a_batch_answers_every_event_in_order(handler_module, context) -> None:
    event = sample("direct_batch.json")
    response = handler_module.handler(event, context)
    records = response["recommendations"]
    assert [r["session_id"] for r in records] == [e["session_id"] for e in event["events"]]
    assert records[2]["similar_items"] == [] and len(records[2]["recommended_items"]) == 10


def test_direct_invoke_of_an_invalid_event_names_the_field_without_echoing_it(handler_module, context) -> None:
    event = sample("direct_spec_event.json")
    event["browse_history"][0]["product_code"] = "S18'; DROP TABLE x; --"
    response = handler_module.handler(event, context)
    assert response["error"] == "invalid_request"
    assert [p["loc"] for p in response["problems"]] == ["browse_history.0.product_code"]
    assert "DROP" not in json.dumps(response)


def test_function_url_post_returns_200_with_the_record(handler_module, context) -> None:
    response = handler_module.handler(sample("function_url_recommendation.json"), context)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    record = json.loads(response["body"])
    assert record["session_id"] == "3f0d8a52-6a1e-4c5e-9b1a-2f7d3c1e9a10" and len(record["recommended_items"]) == 10


def test_function_url_accepts_a_base64_body_on_recommendations(handler_module, context) -> None:
    response = handler_module.handler(sample("function_url_base64_body.json"), context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["customer_number"] == 987654


@pytest.mark.parametrize(("name", "error", "loc"), [
    ("function_url_invalid_quantity.json", "invalid_request", "browse_history.0.quantity"),
    ("function_url_not_json.json", "not_json", "(body)"),
])
def test_function_url_bad_requests_get_400_naming_the_problem(handler_module, context, name, error, loc) -> None:
    response = handler_module.handler(sample(name), context)
    body = json.loads(response["body"])
    assert response["statusCode"] == 400 and body["error"] == error
    assert [p["loc"] for p in body["problems"]] == [loc]
    assert "two" not in response["body"]


def test_function_url_refuses_an_oversized_body_and_other_methods(handler_module, context) -> None:
    event = sample("function_url_recommendation.json")
    event["body"] = json.dumps({"padding": "x" * 300_000})
    assert handler_module.handler(event, context)["statusCode"] == 413
    assert handler_module.handler(sample("function_url_get.json"), context)["statusCode"] in (404, 405)


def test_with_the_database_unreachable_at_cold_start_it_answers_from_the_s3_copy_within_300ms(
        deployment, context, local_stack) -> None:
    # GIVEN the batch refresh published the ranking's copy, and a container starting while the database is down
    import boto3

    rows = [popular_products.Popularity("*", code, 10 - i, 10 - i, 10 - i)
            for i, code in enumerate(["S10_0007", "S10_0008", "S18_3232", "S10_0009"])]
    uri = popular_products.publish_copy(boto3.client("s3"), deployment.bucket, f"copy-{secrets.token_hex(3)}.json",
                                        rows, date(2026, 11, 23))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    module = cold_start({"DATAPLATFORM_VECTOR_DSN": f"host=127.0.0.1 port={closed_port} user=x password=x dbname=x",
                         "DATAPLATFORM_POPULAR_COPY_URI": uri})
    # WHEN the platform calls the function URL
    started = time.perf_counter()
    response = module.handler(sample("function_url_recommendation.json"), context)
    elapsed = time.perf_counter() - started
    # THEN it answers 200 in time with the popular products (cart item left out), flagged as a fallback
    record = json.loads(response["body"])
    assert response["statusCode"] == 200 and elapsed < 0.3, elapsed
    assert ids(record["recommended_items"]) == ["S10_0007", "S10_0008", "S10_0009"]
    assert record["fallback"] and record["fallback_reason"] == "database_unavailable"
