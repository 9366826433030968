"""Model inference: a user-activity event in, its recommendation record out (the pure core of the Lambda).

Two ways in, both answered by the serving package's `Recommender` (the live model version, the popular-products
fallback within 300 ms when the vector DB does not answer):

- **direct invoke** (`lambda:Invoke`, e.g. another service or a step function): the payload is one event (the
  spec's user-activity event) and the response is its recommendation record, or `{"events": [...]}` (up to 500,
  answered as one batch) and `{"recommendations": [...]}`. An invalid request is answered with an
  `ErrorResponse` (`error`, `problems` naming each field), not an exception.
- **Lambda function URL** (HTTP request/response, payload format 2.0): `POST /` or `POST /recommendations` with
  the event as the JSON body; `200` with the record, `400` with an `ErrorResponse` for invalid JSON or an
  invalid event, `413` for a body over `MAX_BODY_BYTES`. Routing and the HTTP envelope are Powertools'
  `LambdaFunctionUrlResolver` (in `handler.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from models import MAX_BODY_BYTES, BatchRequest, BatchResponse, ErrorResponse, Problem
from pydantic import ValidationError

from dataplatform.serving.models import Recommendation, UserActivityEvent


class Recommends(Protocol):
    def recommend(self, event: UserActivityEvent) -> Recommendation: ...

    def recommend_batch(self, events: list[UserActivityEvent]) -> list[Recommendation]: ...


def is_function_url_event(event: Any) -> bool:
    """An HTTP request from a function URL (payload 2.0) rather than a direct invoke."""
    return (isinstance(event, Mapping) and event.get("version") == "2.0"
            and isinstance(event.get("requestContext"), Mapping) and "http" in event["requestContext"])


def answer_direct(recommender: Recommends, payload: Any) -> dict[str, Any]:
    """A direct invoke: one event -> its record; `{"events": [...]}` -> `{"recommendations": [...]}`; an invalid
    payload -> an `ErrorResponse`."""
    try:
        if isinstance(payload, Mapping) and "events" in payload:
            request = BatchRequest.model_validate(payload)
            records = recommender.recommend_batch(list(request.events))
            return BatchResponse(recommendations=records).model_dump(mode="json")
        return recommender.recommend(UserActivityEvent.model_validate(payload)).model_dump(mode="json")
    except ValidationError as error:
        return ErrorResponse.from_validation(error).model_dump(mode="json")


def answer_http(recommender: Recommends, body: str | None) -> tuple[int, dict[str, Any]]:
    """A function URL request's (decoded) body -> (status code, JSON body)."""
    if body is not None and len(body.encode("utf-8")) > MAX_BODY_BYTES:
        return 413, ErrorResponse(error="request_too_large", problems=[
            Problem(loc="(body)", msg=f"at most {MAX_BODY_BYTES} bytes")]).model_dump(mode="json")
    try:
        payload = json.loads(body or "")
    except ValueError as error:
        return 400, ErrorResponse(error="not_json", problems=[
            Problem(loc="(body)", msg=f"not JSON: {type(error).__name__} at position {getattr(error, 'pos', '?')}")
        ]).model_dump(mode="json")
    try:
        event = UserActivityEvent.model_validate(payload)
    except ValidationError as error:
        return 400, ErrorResponse.from_validation(error).model_dump(mode="json")
    return 200, recommender.recommend(event).model_dump(mode="json")
