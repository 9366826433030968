"""The model-inference Lambda's requests and responses (pydantic). The event and the recommendation record
themselves are the serving package's `UserActivityEvent` and `Recommendation`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataplatform.serving.models import Recommendation, UserActivityEvent

MAX_BATCH = 500
MAX_BODY_BYTES = 256 * 1024
"""An HTTP body larger than this is refused (413) before it is parsed: the longest valid event is ~100 KB."""


class BatchRequest(BaseModel):
    """Direct invoke with several events: `{"events": [...]}` (at most `MAX_BATCH`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: list[UserActivityEvent] = Field(min_length=1, max_length=MAX_BATCH)


class BatchResponse(BaseModel):
    recommendations: list[Recommendation]


class Problem(BaseModel):
    """One thing wrong with a request: where (`loc`, e.g. `browse_history.0.quantity`) and what (`msg`). The
    offending value is never echoed back."""

    loc: str
    msg: str


class ErrorResponse(BaseModel):
    error: Literal["invalid_request", "request_too_large", "not_json"]
    problems: list[Problem] = []

    @classmethod
    def from_validation(cls, error: ValidationError) -> ErrorResponse:
        return cls(error="invalid_request", problems=[
            Problem(loc=".".join(str(p) for p in e["loc"]) or "(body)", msg=e["msg"])
            for e in error.errors(include_url=False, include_input=False, include_context=False)][:50])
