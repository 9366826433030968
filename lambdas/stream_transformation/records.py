"""What the transformation writes and why it rejects: the delivered record and the failure reasons.

The event model itself (`UserActivityEvent`) and the recommendation (`Recommendation`) belong to the serving
package, shared with the model-inference function; this module adds what only the stream needs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, Field, field_serializer

from dataplatform.serving.models import Recommendation


class Failure(StrEnum):
    """Why a record is `ProcessingFailed` (the code starts the logged reason)."""

    NOT_BASE64 = "not_base64"
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    DUPLICATE_KEY = "duplicate_key"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_EVENT = "invalid_event"
    INFERENCE_ERROR = "inference_error"
    RESPONSE_FULL = "response_full"


class RecommendationRecord(Recommendation):
    """One line of the recommendations bucket: the spec's recommendation record (the event, `recommended_items`,
    `similar_items`), `model_version`, `fallback` / `fallback_reason`, and two times (UTC, ISO 8601, ms):
    `arrived_at`, when the event reached the Kinesis stream (its approximate arrival timestamp; the partition
    hour), and `processed_at`, when this function answered it."""

    arrived_at: AwareDatetime = Field(description="the Kinesis record's approximateArrivalTimestamp")
    processed_at: AwareDatetime

    @field_serializer("arrived_at", "processed_at")
    def _iso_ms(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @classmethod
    def of(cls, recommendation: Recommendation, *, arrived_at: datetime,
           processed_at: datetime) -> RecommendationRecord:
        fields: dict[str, Any] = dict(recommendation)
        return cls.model_construct(**fields, arrived_at=arrived_at, processed_at=processed_at)

    def line(self) -> bytes:
        """The newline-terminated JSON Firehose concatenates into the S3 object."""
        return self.model_dump_json().encode() + b"\n"

    def partition_keys(self) -> dict[str, str]:
        """Dynamic-partitioning keys: the UTC hour the event arrived in."""
        at = self.arrived_at.astimezone(UTC)
        return {"year": f"{at.year:04d}", "month": f"{at.month:02d}", "day": f"{at.day:02d}", "hour": f"{at.hour:02d}"}
