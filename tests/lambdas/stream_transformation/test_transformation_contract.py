"""The Firehose data-transformation contract, on real pgvector: every recordId answered once, in order; results
Ok or ProcessingFailed (never Dropped); Ok data the base64 of one newline-terminated JSON record; partition keys
from the Kinesis arrival time; the response within Lambda's 6 MB; inference once per batch."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from firehose_events import (
    ARRIVAL_MS,
    CUSTOMERS,
    PRODUCTS,
    decoded,
    event_json,
    firehose_event,
    invoke,
    item,
)

from dataplatform.serving.models import HISTORY_CAP, Recommendation, UserActivityEvent

pytestmark = pytest.mark.stack
MAX_RESPONSE_BYTES = 6_291_556
SPEC_FIELDS = {"session_id", "customer_number", "city", "country", "credit_limit", "browse_history",
               "recommended_items", "similar_items"}


def mixed_batch(n: int) -> list[Any]:
    payloads: list[Any] = []
    for i in range(n):
        if i % 7 == 3:
            payloads.append(b'{"customer_number": "not a number"}')
        else:
            history = [item(PRODUCTS[(i + j) % len(PRODUCTS)], str(1 + j % 3), cart=j == 0 and i % 2 == 0)
                       for j in range(i % 6)]
            payloads.append(event_json(CUSTOMERS[i % len(CUSTOMERS)], history=history))
    return payloads


def test_every_record_id_is_answered_once_in_input_order(handler_module) -> None:
    event = firehose_event(mixed_batch(120))
    answer = invoke(handler_module, event)
    assert [r["recordId"] for r in answer.response["records"]] == [r["recordId"] for r in event["records"]]
    results = [r["result"] for r in answer.response["records"]]
    assert set(results) == {"Ok", "ProcessingFailed"}
    assert results.count("ProcessingFailed") == sum(1 for i in range(120) if i % 7 == 3)
    assert set(answer.rejected) == {r["recordId"] for r in answer.response["records"]
                                    if r["result"] == "ProcessingFailed"}


def test_ok_data_is_one_newline_terminated_json_recommendation_record(handler_module) -> None:
    event = firehose_event(mixed_batch(30))
    answer = invoke(handler_module, event)
    for sent, out in zip(event["records"], answer.response["records"], strict=True):
        if out["result"] != "Ok":
            assert out["data"] == ""  # Firehose keeps the original data under processing-failed/
            continue
        record = decoded(out)
        assert record.keys() >= SPEC_FIELDS
        original = json.loads(base64.b64decode(sent["data"]))
        for key in ("session_id", "customer_number", "city", "country"):
            assert record[key] == original[key]
        assert all(set(r) == {"id", "score"} for r in record["recommended_items"])
        assert all(set(s) == {"product_code", "similar_items"} for s in record["similar_items"])
        assert all(set(n) == {"id", "distance"} for s in record["similar_items"] for n in s["similar_items"])
        assert record["model_version"] == "v1"
        assert record["fallback"] is False and record["fallback_reason"] is None
        arrival = sent["kinesisRecordMetadata"]["approximateArrivalTimestamp"]
        assert datetime.fromisoformat(record["arrived_at"]) == datetime.fromtimestamp(arrival / 1000, UTC)
        assert abs(datetime.fromisoformat(record["processed_at"]) - datetime.now(UTC)).total_seconds() < 60
        # the record validates against the serving contract it extends
        Recommendation.model_validate({k: v for k, v in record.items() if k not in ("arrived_at", "processed_at")})


def test_partition_keys_are_the_kinesis_arrival_hour_in_utc(handler_module) -> None:
    before_midnight = int(datetime(2026, 1, 31, 23, 59, 59, 999_000, tzinfo=UTC).timestamp() * 1000)
    event = firehose_event([event_json(CUSTOMERS[0]), event_json(CUSTOMERS[1])], arrival_ms=before_midnight)
    # Firehose's own arrival time differs from Kinesis': the event's arrival is the Kinesis one
    for record in event["records"]:
        record["approximateArrivalTimestamp"] = ARRIVAL_MS
    answer = invoke(handler_module, event)
    keys = [r["metadata"]["partitionKeys"] for r in answer.response["records"]]
    assert keys == [{"year": "2026", "month": "01", "day": "31", "hour": "23"},
                    {"year": "2026", "month": "02", "day": "01", "hour": "00"}]
    assert decoded(answer.response["records"][1])["arrived_at"] == "2026-02-01T00:00:00.000Z"


def test_response_stays_under_lambdas_6_mb_and_overflow_is_processing_failed(handler_module) -> None:
    # GIVEN a batch whose answers are several times 6 MB (long histories give many similar items)
    history = [item(PRODUCTS[j], "1", cart=j % 9 == 0) for j in range(HISTORY_CAP)]
    event = firehose_event([event_json(CUSTOMERS[i % len(CUSTOMERS)], history=history) for i in range(2_500)])
    # WHEN it is answered
    answer = invoke(handler_module, event)
    # THEN the response fits, every record is answered, and the ones that did not fit are ProcessingFailed
    assert len(json.dumps(answer.response).encode()) <= MAX_RESPONSE_BYTES
    results = [r["result"] for r in answer.response["records"]]
    assert len(results) == 2_500
    ok = results.count("Ok")
    assert 0 < ok < 2_500
    assert results == ["Ok"] * ok + ["ProcessingFailed"] * (2_500 - ok)  # first come, first delivered
    assert {log["reason"] for log in answer.rejected.values()} == {"response_full"}
    assert "6,291,556-byte limit" in next(iter(answer.rejected.values()))["detail"]


class CountingRecommender:
    """The real recommender, with its calls counted (a spy, not a stand-in: every answer is the real one)."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, []

    def recommend_batch(self, events: Sequence[UserActivityEvent], *,
                        deadline_seconds: float | None = None) -> list[Recommendation]:
        self.calls.append(len(events))
        return self.real.recommend_batch(events, deadline_seconds=deadline_seconds)


def test_inference_runs_once_for_the_whole_batch(handler_module) -> None:
    import transformation

    spy = CountingRecommender(handler_module.recommender)
    event = firehose_event(mixed_batch(200))
    from aws_lambda_powertools.utilities.data_classes import KinesisFirehoseEvent

    outcome = transformation.transform(KinesisFirehoseEvent(event), spy, on_failure=lambda record, why: None)
    assert spy.calls == [200 - len(outcome.failures)]
    assert outcome.ok == 200 - len(outcome.failures)
