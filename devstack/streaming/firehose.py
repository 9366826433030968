"""A local Amazon Data Firehose delivery stream: Kinesis source -> Lambda transformation -> S3, on moto.

moto has no Firehose that reads a Kinesis stream and invokes a Lambda, so this runner does what the service
does, thinly, with the real APIs on either side:

1. **Read** each shard of the source stream with `GetShardIterator` / `GetRecords`, starting after the
   checkpointed sequence number (else at `TRIM_HORIZON`; the service starts a new delivery stream at
   `LATEST`, but locally `generate` then `deliver` must lose nothing). Checkpoints move only past records
   that were delivered (to the bucket or its error prefix), so a stopped runner re-reads what it had not
   delivered: at least once, as the service.
2. **Buffer for the Lambda** by size and interval (the processor's `BufferSizeInMBs` / `IntervalInSeconds`:
   0.5 MB / 60 s, the platform's setting) and **invoke** the transformation handler in-process
   (`lambda_runtime`) with the exact event a Kinesis-sourced delivery stream sends: `invocationId`, `deliveryStreamArn`,
   `sourceKinesisStreamArn`, `region`, and per record `recordId`, `approximateArrivalTimestamp`, `data`
   (base64) and `kinesisRecordMetadata` (`shardId`, `partitionKey`, `approximateArrivalTimestamp`,
   `sequenceNumber`, `subsequenceNumber`). A failed invocation (exception, payload over the limits) is
   retried `retries` times (3, the service's default), then its records fail with `Lambda.FunctionError`.
3. **Judge the response** as the service does: each input `recordId` exactly once (else
   `Lambda.MissingRecordId` / `Lambda.DuplicatedRecordId`), `result` one of Ok / Dropped / ProcessingFailed
   and `data` base64 (else `Lambda.JsonProcessingException`). ProcessingFailed records fail with
   `Lambda.ProcessingFailedStatus`.
4. **Buffer for S3** per partition (dynamic partitioning: the prefix is rendered from each Ok record's
   `metadata.partitionKeys`) by size and interval (64 MB / 300 s by default, the minimum size with dynamic
   partitioning), then write one object per partition:
   `<prefix><delivery stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>`, the Ok records' data concatenated
   as they are (the service adds no delimiter: the Lambda ends each record with a newline). Failed records
   go under the error output prefix (`!{firehose:error-output-type}` = `processing-failed`), one Firehose
   error record per line: `attemptsMade`, `arrivalTimestamp`, `errorCode`, `errorMessage`,
   `attemptEndingTimestamp`, `rawData` (the original record, base64), `lambdaArn`.
5. **Publish the metrics** AWS publishes, to CloudWatch (moto): `AWS/Kinesis GetRecords.IteratorAgeMilliseconds`
   (dimension `StreamName`; the age of the last record each read returned, 0 when caught up) and
   `AWS/Firehose` (dimension `DeliveryStreamName`) `DeliveryToS3.DataFreshness` (seconds from a record's
   arrival in the delivery stream to its delivery, the oldest record of each object), `DeliveryToS3.Records`,
   `DeliveryToS3.Success`, `ExecuteProcessing.Success` (1 or 0 per invocation), `ExecuteProcessing.Duration`,
   `SucceedProcessing.Records`.

Not modelled: shard splits and merges (the shard list is read once), record de-aggregation (KPL), the
service's retry-duration clock for S3 failures (an S3 error here propagates). Nothing under `plugins/`
imports this module; it is local tooling only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from devstack.streaming.cloudwatch import MetricsSink
from devstack.streaming.lambda_runtime import FunctionError, LocalFunction

MiB = 1024 * 1024
PARTITIONED_PREFIX = ("!{partitionKeyFromLambda:year}/!{partitionKeyFromLambda:month}/"
                      "!{partitionKeyFromLambda:day}/!{partitionKeyFromLambda:hour}/")
"""Ok records land under `yyyy/MM/dd/HH/` from the Lambda's partition keys (UTC, the event's arrival hour)."""
ERROR_OUTPUT_PREFIX = "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
"""Failed records: `processing-failed/yyyy/MM/dd/HH/`, the service's default layout."""
GET_RECORDS_LIMIT = 10_000

PROCESSING_FAILED = ("Lambda.ProcessingFailedStatus", "ProcessingFailed status set for record")
FUNCTION_ERROR = "Lambda.FunctionError"
MISSING_RECORD_ID = ("Lambda.MissingRecordId", "One or more record Ids were not returned. Ensure that the Lambda "
                     "function returns all received record Ids.")
DUPLICATED_RECORD_ID = ("Lambda.DuplicatedRecordId", "Multiple records were returned with the same record Id. "
                        "Ensure that the Lambda function returns unique record Ids for each record.")
JSON_PROCESSING = ("Lambda.JsonProcessingException", "There was an error parsing returned records from the Lambda "
                   "function. Ensure that the returned records follow the status model required by Firehose.")
PARTITION_KEY_MISSING = "DynamicPartitioning.PartitionKeyMissing"

_EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^}]+)\}")
_JAVA_DATE = re.compile(r"yyyy|MM|dd|HH|mm|ss")
_JAVA_TO_STRFTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


@dataclass(frozen=True)
class Buffering:
    size_bytes: int
    interval_seconds: float


@dataclass(frozen=True)
class DeliveryStream:
    """The delivery stream's configuration, in the terms of `CreateDeliveryStream`."""

    name: str
    source_stream: str
    bucket: str
    region: str
    account_id: str
    function_name: str
    prefix: str = PARTITIONED_PREFIX
    error_output_prefix: str = ERROR_OUTPUT_PREFIX
    processing: Buffering = Buffering(MiB // 2, 60.0)
    """0.5 MB, not the service's 1 MB default: a recommendation record is 5-10x its event, and a response over
    Lambda's 6 MB would fail the whole batch (lambdas/README.md, "Firehose transformation")."""
    delivery: Buffering = Buffering(64 * MiB, 300.0)
    retries: int = 3
    version: int = 1

    @classmethod
    def from_settings(cls, s: Any, **overrides: Any) -> DeliveryStream:
        """The platform's delivery stream: the activity stream into the recommendations bucket."""
        return replace(cls(name=s.delivery_stream, source_stream=s.activity_stream,
                           bucket=s.recommendations_bucket, region=s.region, account_id=s.account_id,
                           function_name=s.stream_transformation_function), **overrides)

    @property
    def arn(self) -> str:
        return f"arn:aws:firehose:{self.region}:{self.account_id}:deliverystream/{self.name}"

    @property
    def source_stream_arn(self) -> str:
        return f"arn:aws:kinesis:{self.region}:{self.account_id}:stream/{self.source_stream}"

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"


def render_prefix(template: str, *, at: datetime, partition_keys: Mapping[str, str] | None = None,
                  error_output_type: str | None = None) -> str:
    """A prefix with Firehose's expressions evaluated; KeyError when a partition key is missing."""

    def value(match: re.Match[str]) -> str:
        namespace, key = match.groups()
        if namespace == "partitionKeyFromLambda":
            found = (partition_keys or {})[key]
            if not isinstance(found, str) or not found:
                raise KeyError(key)
            return found
        if namespace == "firehose" and key == "error-output-type" and error_output_type:
            return error_output_type
        if namespace == "timestamp":
            return _JAVA_DATE.sub(lambda m: at.astimezone(UTC).strftime(_JAVA_TO_STRFTIME[m.group()]), key)
        raise ValueError(f"unsupported prefix expression {match.group()!r}")

    return _EXPRESSION.sub(value, template)


def _ms(at: float) -> int:
    return int(at * 1000)


@dataclass(eq=False)
class InFlight:
    """A record read from the stream and not yet delivered."""

    shard_id: str
    record_id: str
    sequence_number: str
    partition_key: str
    kinesis_arrival: float
    data: bytes
    received: float
    """When the delivery stream read it (its arrival in Firehose)."""
    delivered: bool = False

    def event_record(self) -> dict[str, Any]:
        arrival = _ms(self.kinesis_arrival)
        return {
            "recordId": self.record_id,
            "approximateArrivalTimestamp": arrival,
            "data": base64.b64encode(self.data).decode(),
            "kinesisRecordMetadata": {
                "shardId": self.shard_id,
                "partitionKey": self.partition_key,
                "approximateArrivalTimestamp": arrival,
                "sequenceNumber": self.sequence_number,
                "subsequenceNumber": 0,
            },
        }


@dataclass
class Shard:
    shard_id: str
    index: int
    iterator: str | None = None
    checkpoint: str | None = None
    """Sequence number of the last record delivered with everything before it."""
    last_read: str | None = None
    unsettled: deque[InFlight] = field(default_factory=deque)

    def settle(self) -> bool:
        """Move the checkpoint past every delivered record at the head; True when it moved."""
        moved = False
        while self.unsettled and self.unsettled[0].delivered:
            self.checkpoint = self.unsettled.popleft().sequence_number
            moved = True
        return moved


@dataclass
class DeliveryReport:
    """What a run read, transformed and wrote."""

    read: int = 0
    ok: int = 0
    dropped: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    invocations: int = 0
    failed_invocations: int = 0
    objects: list[str] = field(default_factory=list)
    error_objects: list[str] = field(default_factory=list)

    @property
    def processing_failed(self) -> int:
        return sum(self.failed.values())

    @property
    def delivered(self) -> int:
        return self.ok + self.dropped + self.processing_failed


@dataclass(eq=False)
class _Pending:
    records: list[InFlight] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    size: int = 0

    def add(self, record: InFlight, line: bytes) -> None:
        self.records.append(record)
        self.lines.append(line)
        self.size += len(line)

    @property
    def oldest(self) -> float:
        return min(r.received for r in self.records)


Clock = Callable[[], float]


class LocalFirehose:
    """One delivery stream. `run(until_idle=True)` reads until the stream is drained and delivers everything."""

    def __init__(self, stream: DeliveryStream, function: LocalFunction, *, kinesis: Any, s3: Any, cloudwatch: Any,
                 checkpoint_path: Path, initial_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON",
                 clock: Clock = time.time) -> None:
        self.stream, self.function = stream, function
        self.kinesis, self.s3 = kinesis, s3
        self.metrics = MetricsSink(cloudwatch)
        self.checkpoint_path = checkpoint_path
        self.initial_position = initial_position
        self.clock = clock
        self.report = DeliveryReport()
        self._to_process: list[InFlight] = []
        self._to_process_bytes = 0
        self._to_s3: dict[str, _Pending] = {}
        self._errors: dict[str, _Pending] = {}
        self._shards = self._open_shards()

    # --- checkpoints -----------------------------------------------------------------------------------------

    def _stream_identity(self) -> str:
        summary = self.kinesis.describe_stream_summary(StreamName=self.stream.source_stream)
        created = summary["StreamDescriptionSummary"]["StreamCreationTimestamp"]
        return f"{self.stream.source_stream_arn}@{created.timestamp():.3f}"

    def _load_checkpoints(self, identity: str) -> dict[str, str]:
        try:
            saved = json.loads(self.checkpoint_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        # A stream re-created under the same name (a restarted moto) restarts its sequence numbers.
        return saved.get("shards", {}) if saved.get("stream") == identity else {}

    def _save_checkpoints(self) -> None:
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stream": self._identity, "delivery_stream": self.stream.arn,
                                   "shards": {s.shard_id: s.checkpoint for s in self._shards if s.checkpoint}},
                                  indent=2))
        tmp.replace(self.checkpoint_path)

    def _iterator(self, shard: Shard, after: str | None) -> str:
        kw: dict[str, Any] = {"StreamName": self.stream.source_stream, "ShardId": shard.shard_id}
        if after:
            kw |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after}
        else:
            kw |= {"ShardIteratorType": self.initial_position}
        return self.kinesis.get_shard_iterator(**kw)["ShardIterator"]

    def _open_shards(self) -> list[Shard]:
        self._identity = self._stream_identity()
        saved = self._load_checkpoints(self._identity)
        listed = self.kinesis.list_shards(StreamName=self.stream.source_stream)["Shards"]
        shards = []
        for index, s in enumerate(sorted(listed, key=lambda s: s["ShardId"])):
            shard = Shard(s["ShardId"], index, checkpoint=saved.get(s["ShardId"]))
            shard.last_read = shard.checkpoint
            shard.iterator = self._iterator(shard, shard.checkpoint)
            shards.append(shard)
        return shards

    # --- reading -----------------------------------------------------------------------------------------------

    def poll(self) -> int:
        """One `GetRecords` per open shard; returns the number of records read."""
        read, ages = 0, []
        for shard in self._shards:
            if shard.iterator is None:
                continue
            try:
                out = self.kinesis.get_records(ShardIterator=shard.iterator, Limit=GET_RECORDS_LIMIT)
            except self.kinesis.exceptions.ExpiredIteratorException:
                shard.iterator = self._iterator(shard, shard.last_read)
                out = self.kinesis.get_records(ShardIterator=shard.iterator, Limit=GET_RECORDS_LIMIT)
            shard.iterator = out.get("NextShardIterator")
            now = self.clock()
            for r in out["Records"]:
                record = InFlight(shard_id=shard.shard_id, record_id=f"{r['SequenceNumber']}{shard.index:06d}",
                                  sequence_number=r["SequenceNumber"], partition_key=r["PartitionKey"],
                                  kinesis_arrival=r["ApproximateArrivalTimestamp"].timestamp(), data=r["Data"],
                                  received=now)
                shard.unsettled.append(record)
                shard.last_read = record.sequence_number
                self._to_process.append(record)
                self._to_process_bytes += len(record.data)
            if out["Records"]:
                ages.append(max(0.0, (now - out["Records"][-1]["ApproximateArrivalTimestamp"].timestamp()) * 1000))
            else:
                ages.append(float(out.get("MillisBehindLatest", 0)))
            read += len(out["Records"])
        if ages:
            self.metrics.add("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", max(ages), "Milliseconds",
                             {"StreamName": self.stream.source_stream})
        self.report.read += read
        return read

    # --- transformation ------------------------------------------------------------------------------------------

    def _batches(self) -> list[list[InFlight]]:
        batches: list[list[InFlight]] = [[]]
        size = 0
        for record in self._to_process:
            if batches[-1] and size + len(record.data) > self.stream.processing.size_bytes:
                batches.append([])
                size = 0
            batches[-1].append(record)
            size += len(record.data)
        return [b for b in batches if b]

    def process(self, *, force: bool = False) -> None:
        """Invoke the Lambda for the buffered records when the buffer is full or old enough (or `force`)."""
        if not self._to_process:
            return
        full = self._to_process_bytes >= self.stream.processing.size_bytes
        due = self.clock() - self._to_process[0].received >= self.stream.processing.interval_seconds
        if not (force or full or due):
            return
        batches = self._batches()
        self._to_process, self._to_process_bytes = [], 0
        for batch in batches:
            self._invoke(batch)
            self.deliver()  # an S3 buffer that this batch filled is written now, as the service does

    def _invoke(self, batch: list[InFlight]) -> None:
        event = {"invocationId": str(uuid.uuid4()), "deliveryStreamArn": self.stream.arn,
                 "sourceKinesisStreamArn": self.stream.source_stream_arn, "region": self.stream.region,
                 "records": [r.event_record() for r in batch]}
        dims = {"DeliveryStreamName": self.stream.name}
        for attempt in range(1, self.stream.retries + 2):
            started = self.clock()
            self.report.invocations += 1
            try:
                response = self.function.invoke(event)
            except FunctionError as exc:
                self.report.failed_invocations += 1
                self.metrics.add("AWS/Firehose", "ExecuteProcessing.Success", 0, "None", dims)
                if attempt > self.stream.retries:
                    for record in batch:
                        self._fail(record, FUNCTION_ERROR, str(exc), attempt)
                    return
                continue
            self.metrics.add("AWS/Firehose", "ExecuteProcessing.Success", 1, "None", dims)
            self.metrics.add("AWS/Firehose", "ExecuteProcessing.Duration", (self.clock() - started) * 1000,
                             "Milliseconds", dims)
            ok = self._judge(batch, response, attempt)
            self.metrics.add("AWS/Firehose", "SucceedProcessing.Records", ok, "Count", dims)
            return

    def _judge(self, batch: list[InFlight], response: Any, attempt: int) -> int:
        """Apply the response to each input record as the service does; returns the Ok count."""
        outputs = response.get("records") if isinstance(response, dict) else None
        if not isinstance(outputs, list):
            for record in batch:
                self._fail(record, *JSON_PROCESSING, attempt)
            return 0
        by_id: dict[Any, Any] = {}
        duplicated = set()
        for out in outputs:
            rid = out.get("recordId") if isinstance(out, dict) else None
            if rid in by_id:
                duplicated.add(rid)
            by_id[rid] = out
        ok = 0
        for record in batch:
            out = by_id.get(record.record_id)
            if record.record_id in duplicated:
                self._fail(record, *DUPLICATED_RECORD_ID, attempt)
            elif out is None:
                self._fail(record, *MISSING_RECORD_ID, attempt)
            elif out.get("result") == "ProcessingFailed":
                self._fail(record, *PROCESSING_FAILED, attempt)
            elif out.get("result") == "Dropped":
                record.delivered = True
                self.report.dropped += 1
            elif out.get("result") == "Ok" and isinstance(out.get("data"), str):
                try:
                    data = base64.b64decode(out["data"], validate=True)
                except (binascii.Error, ValueError):
                    self._fail(record, *JSON_PROCESSING, attempt)
                    continue
                metadata = out.get("metadata")
                keys = metadata.get("partitionKeys") if isinstance(metadata, dict) else None
                try:
                    prefix = render_prefix(self.stream.prefix, at=datetime.fromtimestamp(record.received, UTC),
                                           partition_keys=keys if isinstance(keys, dict) else None)
                except KeyError as missing:
                    self._fail(record, PARTITION_KEY_MISSING, f"partition key {missing} missing from the Lambda's "
                               "metadata.partitionKeys", attempt, error_output_type="partitioning-failed")
                    continue
                self._to_s3.setdefault(prefix, _Pending()).add(record, data)
                ok += 1
            else:
                self._fail(record, *JSON_PROCESSING, attempt)
        self.report.ok += ok
        return ok

    def _fail(self, record: InFlight, code: str, message: str, attempts: int,
              error_output_type: str = "processing-failed") -> None:
        line = json.dumps({
            "attemptsMade": attempts,
            "arrivalTimestamp": _ms(record.received),
            "errorCode": code,
            "errorMessage": message,
            "attemptEndingTimestamp": _ms(self.clock()),
            "rawData": base64.b64encode(record.data).decode(),
            "lambdaArn": self.stream.function_arn,
        }).encode() + b"\n"
        prefix = render_prefix(self.stream.error_output_prefix, at=datetime.fromtimestamp(record.received, UTC),
                               error_output_type=error_output_type)
        self._errors.setdefault(prefix, _Pending()).add(record, line)
        self.report.failed[code] = self.report.failed.get(code, 0) + 1

    # --- delivery ------------------------------------------------------------------------------------------------

    def _key(self, prefix: str, oldest: float) -> str:
        stamp = datetime.fromtimestamp(oldest, UTC).strftime("%Y-%m-%d-%H-%M-%S")
        return f"{prefix}{self.stream.name}-{self.stream.version}-{stamp}-{uuid.uuid4()}"

    def deliver(self, *, force: bool = False) -> None:
        """Write each partition's buffer that is full or old enough (or every one with `force`)."""
        now = self.clock()
        dims = {"DeliveryStreamName": self.stream.name}
        for buffers, is_error in ((self._to_s3, False), (self._errors, True)):
            for prefix in list(buffers):
                pending = buffers[prefix]
                due = now - pending.oldest >= self.stream.delivery.interval_seconds
                if not (force or due or pending.size >= self.stream.delivery.size_bytes):
                    continue
                key = self._key(prefix, pending.oldest)
                self.s3.put_object(Bucket=self.stream.bucket, Key=key, Body=b"".join(pending.lines))
                del buffers[prefix]
                for record in pending.records:
                    record.delivered = True
                if is_error:
                    self.report.error_objects.append(key)
                    continue
                self.report.objects.append(key)
                delivered_at = self.clock()
                self.metrics.add("AWS/Firehose", "DeliveryToS3.Records", len(pending.records), "Count", dims)
                self.metrics.add("AWS/Firehose", "DeliveryToS3.Bytes", pending.size, "Bytes", dims)
                self.metrics.add("AWS/Firehose", "DeliveryToS3.Success", 1, "None", dims)
                self.metrics.add("AWS/Firehose", "DeliveryToS3.DataFreshness", delivered_at - pending.oldest,
                                 "Seconds", dims)
        self._settle()

    def _settle(self) -> None:
        # A Dropped record is delivered the moment it is judged, so settle after every step.
        if any([shard.settle() for shard in self._shards]):
            self._save_checkpoints()

    @property
    def idle(self) -> bool:
        return not self._to_process and not self._to_s3 and not self._errors

    # --- the loop ------------------------------------------------------------------------------------------------

    def step(self, *, force: bool = False) -> int:
        read = self.poll()
        self.process(force=force)
        self.deliver(force=force)
        return read

    def run(self, *, until_idle: bool = False, idle_polls: int = 2, poll_interval: float = 1.0,
            max_seconds: float | None = None) -> DeliveryReport:
        """Poll, transform and deliver. `until_idle`: stop once `idle_polls` reads in a row returned nothing
        (then flush every buffer). `max_seconds`: stop (and flush) after that long. Metrics are sent after every
        step that wrote something, and at the end."""
        started = self.clock()
        quiet = 0
        try:
            while True:
                read = self.step()
                quiet = 0 if read else quiet + 1
                self.metrics.flush()
                if until_idle and quiet >= idle_polls:
                    break
                if max_seconds is not None and self.clock() - started >= max_seconds:
                    break
                if not read:
                    time.sleep(poll_interval)
        finally:
            self.process(force=True)
            self.deliver(force=True)
            self.metrics.flush()
        return self.report
