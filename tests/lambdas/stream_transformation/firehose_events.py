"""Building Firehose transformation events as a Kinesis-sourced delivery stream sends them, and reading answers."""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from devstack.streaming.lambda_runtime import LambdaContext
from lambdas.packaging import load_handler

PRODUCTS = [f"S{10 + i // 100}_{1000 + i:04d}" for i in range(240)]
CUSTOMERS = list(range(101, 261))
COUNTRIES = ["Spain", "France", "USA"]
DIMENSION = 16
ARRIVAL_MS = 1_795_996_005_486  # 2026-11-29T23:46:45.486Z


def event_json(customer_number: int = 141, *, city: str = "Madrid", country: str = "Spain",
               credit_limit: float | int | None = 227_600, history: Sequence[dict[str, Any]] = (),
               session_id: str | None = None) -> dict[str, Any]:
    return {"session_id": session_id or secrets.token_hex(8), "customer_number": customer_number, "city": city,
            "country": country, "credit_limit": credit_limit, "browse_history": list(history)}


def item(code: str, quantity: str = "1", cart: bool = False) -> dict[str, Any]:
    return {"product_code": code, "quantity": quantity, "in_shopping_cart": cart}


def firehose_event(payloads: Sequence[bytes | dict[str, Any]], *, arrival_ms: int = ARRIVAL_MS,
                   shard: str = "shardId-000000000001") -> dict[str, Any]:
    """A transformation event as a Kinesis-sourced delivery stream sends it."""
    records = []
    for i, payload in enumerate(payloads):
        data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        sequence = f"{49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000 + i}"
        records.append({
            "recordId": f"{sequence}000001",
            "approximateArrivalTimestamp": arrival_ms + i,
            "data": base64.b64encode(data).decode(),
            "kinesisRecordMetadata": {"shardId": shard, "partitionKey": f"pk-{i}", "sequenceNumber": sequence,
                                      "subsequenceNumber": 0, "approximateArrivalTimestamp": arrival_ms + i},
        })
    return {"invocationId": secrets.token_hex(16),
            "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/reco-test-recommendations",
            "sourceKinesisStreamArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/reco-test-user-activity",
            "region": "eu-west-1", "records": records}


def decoded(response_record: dict[str, Any]) -> dict[str, Any]:
    """The JSON line an Ok output record carries (asserting it is exactly one newline-terminated line)."""
    raw = base64.b64decode(response_record["data"], validate=True)
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw[:200]
    return json.loads(raw)


@dataclass(frozen=True)
class Answer:
    response: dict[str, Any]
    logs: list[dict[str, Any]]

    @property
    def rejected(self) -> dict[str, dict[str, Any]]:
        """recordId -> the log line of its ProcessingFailed reason."""
        return {log["record_id"]: log for log in self.logs if log.get("message") == "record ProcessingFailed"}

    def result(self, record_id: str) -> str:
        return next(r["result"] for r in self.response["records"] if r["recordId"] == record_id)


def invoke(handler_module: ModuleType, event: dict[str, Any], *, timeout_seconds: float = 60.0) -> Answer:
    """Call the handler as Lambda would, with its structured logs captured (its Logger writes JSON lines to a
    stream, as to CloudWatch Logs)."""
    buffer = io.StringIO()
    stream_handler = handler_module.logger.registered_handler
    previous = stream_handler.setStream(buffer)
    try:
        context = LambdaContext("reco-test-stream-transformation",
                                "arn:aws:lambda:eu-west-1:123456789012:function:reco-test-stream-transformation",
                                timeout_seconds=timeout_seconds)
        response = handler_module.handler(json.loads(json.dumps(event)), context)
    finally:
        stream_handler.setStream(previous)
    logs = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    return Answer(response=json.loads(json.dumps(response)), logs=logs)


def cold_start(environment: dict[str, str]) -> ModuleType:
    """The handler module imported anew with `environment` set, as a new container would start."""
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)
    try:
        return load_handler("stream_transformation", fresh=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
