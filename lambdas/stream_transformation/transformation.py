"""The Firehose transformation: a batch of Kinesis records in, one answer per record out.

For each input record exactly one output record with the same `recordId`:

- `Ok`: `data` is the base64 of one newline-terminated JSON `RecommendationRecord`, and
  `metadata.partitionKeys` holds year / month / day / hour (UTC) of the event's arrival in Kinesis, which the
  delivery stream's prefix uses (`!{partitionKeyFromLambda:year}/...`).
- `ProcessingFailed`: the record could not be answered; the reason is logged (code + detail, never the whole
  payload) and Firehose keeps the original record under the bucket's `processing-failed/` prefix for replay.
  `data` is left empty: Firehose writes the *original* data to the error prefix, so echoing it back would only
  spend the response budget.

Never `Dropped` (Firehose would lose the record) and never an exception that loses the batch: every failure
of one record is caught and answered for that record; an unexpected inference error fails the valid records of
the batch (they stay replayable) rather than the invocation.

**One inference for the batch.** Records are decoded and validated first; the valid events go to
`Recommender.recommend_batch` in one call (a few database round trips for the whole batch, not one per record).
Its own fallback (popular products) answers when the vector DB is down, stopped or slow: such records are Ok
with `fallback: true` and a `fallback_reason`.

**Response size.** A synchronous Lambda response is at most 6,291,556 bytes; a bigger one fails the whole
invocation, Firehose retries it three times and then sends every record of the batch to `processing-failed/`.
So the response is assembled within `RESPONSE_BUDGET`: the failed answers are counted first (they are small),
then Ok answers are added in input order while they fit; a record whose answer no longer fits is
`ProcessingFailed` with reason `response_full` (its raw data is kept under the error prefix and can be
replayed), and the others of the batch are still delivered. A recommendation record is 5-20x the size of its
event (base64 adds a third), so the delivery stream's processor buffer must be small enough that a full batch
fits: see `lambdas/README.md` (BufferSizeInMBs).

Input decoding is strict and bounded: `data` must be base64; at most `MAX_EVENT_BYTES` decoded (checked before
decoding); UTF-8; one standard JSON object (no NaN / Infinity, no duplicate keys, no trailing data, bounded
nesting); then `UserActivityEvent` (the serving package's pydantic model: exact types, bounded strings,
product-code pattern, history length) with the field named in the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools.utilities.data_classes import (
    KinesisFirehoseDataTransformationRecord,
    KinesisFirehoseDataTransformationRecordMetadata,
    KinesisFirehoseDataTransformationResponse,
    KinesisFirehoseEvent,
)
from aws_lambda_powertools.utilities.data_classes.kinesis_firehose_event import KinesisFirehoseRecord
from pydantic import ValidationError
from records import Failure, RecommendationRecord

from dataplatform.serving.models import Recommendation, UserActivityEvent

MAX_RESPONSE_BYTES = 6_291_556
"""AWS Lambda's limit on a synchronous response."""
RESPONSE_BUDGET = MAX_RESPONSE_BYTES - 64 * 1024
"""What this function lets its response grow to: a margin for the JSON framing counted approximately."""
MAX_EVENT_BYTES = 256 * 1024
"""An event at the model's limits (1,000 history entries, 80-character strings) is well under 200 KB even
pretty-printed; anything bigger is not an event."""
MAX_DETAIL = 300
"""Longest reason detail logged (payload excerpts included)."""
BATCH_DEADLINE_SECONDS = 5.0
"""How long a batch's inference may wait for the database (an online request gets 0.2 s; a Firehose batch of
hundreds of events may need more, and nobody is waiting on a page): past it, the popular-products fallback."""
RESPONSE_SECONDS = 1.0
"""Kept free of the invocation's remaining time for decoding and encoding around inference."""


def batch_deadline(remaining_ms: int) -> float:
    """The inference deadline for an invocation with `remaining_ms` left: `BATCH_DEADLINE_SECONDS`, less when the
    function's timeout is near (never under 0.2 s, the online deadline)."""
    return max(0.2, min(BATCH_DEADLINE_SECONDS, remaining_ms / 1000 - RESPONSE_SECONDS))


class BatchRecommender(Protocol):
    def recommend_batch(self, events: Sequence[UserActivityEvent], *,
                        deadline_seconds: float | None = None) -> list[Recommendation]: ...


class Rejected(Exception):
    """A record that cannot be answered: `failure` is the code, `detail` says what exactly."""

    def __init__(self, failure: Failure, detail: str) -> None:
        super().__init__(f"{failure.value}: {detail}")
        self.failure = failure
        self.detail = detail[:MAX_DETAIL]


@dataclass(frozen=True)
class Outcome:
    """The answers for one batch, in input order, and what they were."""

    records: list[KinesisFirehoseDataTransformationRecord]
    failures: dict[str, Failure]
    """recordId -> failure, for the ProcessingFailed ones."""
    fallbacks: int
    inference_seconds: float

    @property
    def ok(self) -> int:
        return len(self.records) - len(self.failures)

    def response(self) -> dict[str, Any]:
        out = KinesisFirehoseDataTransformationResponse()
        for record in self.records:
            out.add_record(record)
        return out.asdict()


# --- decoding ----------------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise Rejected(Failure.DUPLICATE_KEY, f"key(s) {', '.join(repr(k[:40]) for k in dupes[:5])} appear more "
                                              "than once: which value is meant is ambiguous")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise Rejected(Failure.NOT_JSON, f"{name} is not a JSON number")


def _excerpt(text: str) -> str:
    return repr(text[:80]) + ("..." if len(text) > 80 else "")


def decode_payload(data: object) -> bytes:
    """The record's bytes from Firehose's base64 `data`, refusing anything over `MAX_EVENT_BYTES` undecoded."""
    if not isinstance(data, str):
        raise Rejected(Failure.NOT_BASE64, f"data is {type(data).__name__}, not a base64 string")
    if len(data) // 4 * 3 > MAX_EVENT_BYTES + 3:
        raise Rejected(Failure.TOO_LARGE, f"about {len(data) // 4 * 3:,} bytes, more than an event can be "
                                          f"({MAX_EVENT_BYTES:,})")
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected(Failure.NOT_BASE64, f"data is not base64 ({exc})") from None
    if len(payload) > MAX_EVENT_BYTES:
        raise Rejected(Failure.TOO_LARGE, f"{len(payload):,} bytes, more than an event can be ({MAX_EVENT_BYTES:,})")
    return payload


def parse_event(payload: bytes) -> UserActivityEvent:
    """One `UserActivityEvent` from a record's bytes, or `Rejected` naming what is wrong."""
    if not payload.strip():
        raise Rejected(Failure.EMPTY, f"{len(payload)} byte(s) of nothing")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(Failure.NOT_UTF8, f"byte {exc.start} is not UTF-8 ({exc.reason})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise Rejected(Failure.NOT_JSON, f"{exc.msg} at line {exc.lineno} column {exc.colno}: {_excerpt(text)}") \
            from None
    except RecursionError:
        raise Rejected(Failure.NOT_JSON, "nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python's digit limit
        raise Rejected(Failure.NOT_JSON, str(exc)) from None
    if not isinstance(value, dict):
        raise Rejected(Failure.NOT_AN_OBJECT, f"a JSON {type(value).__name__}, not an object")
    try:
        return UserActivityEvent.model_validate(value)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or '(event)'}: {e['msg']}"
                    for e in exc.errors(include_url=False, include_input=False, include_context=False)]
        raise Rejected(Failure.INVALID_EVENT, "; ".join(problems)) from None


def arrival_time(record: KinesisFirehoseRecord, default: datetime) -> datetime:
    """The Kinesis `approximateArrivalTimestamp` (epoch ms) of the record, else Firehose's, else `default`."""
    meta = record.get("kinesisRecordMetadata")
    for candidate in ((meta or {}).get("approximateArrivalTimestamp") if isinstance(meta, Mapping) else None,
                      record.get("approximateArrivalTimestamp")):
        if isinstance(candidate, int | float) and not isinstance(candidate, bool) and 0 < candidate < 2**53:
            return datetime.fromtimestamp(candidate / 1000, UTC)
    return default


# --- the batch ---------------------------------------------------------------------------------------------


def _size(record: KinesisFirehoseDataTransformationRecord) -> int:
    return len(json.dumps(record.asdict(), separators=(", ", ": "))) + 2


def _failed(record_id: str) -> KinesisFirehoseDataTransformationRecord:
    return KinesisFirehoseDataTransformationRecord(record_id=record_id, result="ProcessingFailed", data="")


LogFailure = Callable[[KinesisFirehoseRecord, Rejected], None]


def transform(event: KinesisFirehoseEvent, recommender: BatchRecommender, *, on_failure: LogFailure,
              deadline_seconds: float | None = None,
              now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Outcome:
    """Answer every record of a Firehose transformation event (see the module docstring). `deadline_seconds`:
    how long inference may wait for the database before the batch is answered from the fallback."""
    inputs = list(event.records)
    received = now()
    failures: dict[int, Rejected] = {}
    valid: list[tuple[int, UserActivityEvent]] = []
    for i, record in enumerate(inputs):
        try:
            valid.append((i, parse_event(decode_payload(record.get("data")))))
        except Rejected as rejected:
            failures[i] = rejected

    recommendations: dict[int, Recommendation] = {}
    started = time.perf_counter()
    if valid:
        try:
            answers = recommender.recommend_batch([e for _, e in valid], deadline_seconds=deadline_seconds)
            if len(answers) != len(valid):
                raise RuntimeError(f"{len(answers)} answers for {len(valid)} events")
            recommendations = {i: answer for (i, _), answer in zip(valid, answers, strict=True)}
        except Exception as exc:  # noqa: BLE001 - the batch must be answered whatever inference did
            for i, _ in valid:
                failures[i] = Rejected(Failure.INFERENCE_ERROR, f"{type(exc).__name__}: {exc}")
    inference_seconds = time.perf_counter() - started
    processed_at = now()

    out: list[KinesisFirehoseDataTransformationRecord] = [_failed(r.record_id) for r in inputs]
    used = len('{"records": []}') + sum(_size(r) for r in out)
    fallbacks = 0
    for i, record in enumerate(inputs):
        if i in failures:
            continue
        recommendation = recommendations[i]
        line = RecommendationRecord.of(recommendation, arrived_at=arrival_time(record, received),
                                       processed_at=processed_at)
        answer = KinesisFirehoseDataTransformationRecord(
            record_id=record.record_id, result="Ok", data=base64.b64encode(line.line()).decode(),
            metadata=KinesisFirehoseDataTransformationRecordMetadata(partition_keys=line.partition_keys()))
        grow = _size(answer) - _size(out[i])
        if used + grow > RESPONSE_BUDGET:
            failures[i] = Rejected(Failure.RESPONSE_FULL, f"the response already holds {used:,} bytes; this "
                                   f"record's answer ({grow:,} more) would pass Lambda's {MAX_RESPONSE_BYTES:,}-byte "
                                   "limit and fail the whole batch")
            continue
        out[i] = answer
        used += grow
        fallbacks += recommendation.fallback
    for i in sorted(failures):
        on_failure(inputs[i], failures[i])
    return Outcome(records=out, failures={inputs[i].record_id: f.failure for i, f in failures.items()},
                   fallbacks=fallbacks, inference_seconds=inference_seconds)
