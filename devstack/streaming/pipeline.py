"""Local streaming end to end: events into the local Kinesis stream, through the local Firehose and the
transformation Lambda (in-process), into the local recommendations bucket; counted back from the bucket.

    from devstack.streaming.pipeline import stream_events
    counts = stream_events(1_000)          # needs the local stack up, seeded, with a live model
    print(counts.summary())                # 1,000 in = 962 Ok + 38 ProcessingFailed out ...
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from devstack.stack import StackConfig
from devstack.streaming.firehose import DeliveryReport, DeliveryStream, LocalFirehose
from devstack.streaming.lambda_runtime import LocalFunction
from devstack.streaming.producer import Produced, put_records
from devstack.streaming.sessions import Catalogue, SessionMix, activity_records
from devstack.streaming.source import catalogue_from_source

FUNCTION = "stream_transformation"


def state_dir() -> Path:
    return StackConfig.from_env().state_dir / "streaming"


def _settings() -> Any:
    from dataplatform.config import settings

    return settings()


def _client(service: str) -> Any:
    return boto3.client(service, region_name=_settings().region)


def vector_conninfo() -> str:
    """The local stack's vector DB as the pipelines' user (from AIRFLOW_CONN_PG_VECTOR)."""
    from psycopg.conninfo import make_conninfo

    c = json.loads(os.environ["AIRFLOW_CONN_PG_VECTOR"])
    return make_conninfo(host=c["host"], port=c["port"], user=c["login"], password=c["password"], dbname=c["schema"])


def function_environment(conninfo: str | None = None) -> dict[str, str]:
    """The transformation function's environment (its Lambda configuration) on the local stack: the vector DB at
    `conninfo` (default: `DATAPLATFORM_VECTOR_DSN` if set, else the local stack's) and the popular-products copy
    the batch refresh publishes in the data-lake bucket."""
    from dataplatform.serving.popular import COPY_KEY

    return {"DATAPLATFORM_VECTOR_DSN": conninfo or os.environ.get("DATAPLATFORM_VECTOR_DSN") or vector_conninfo(),
            "DATAPLATFORM_POPULAR_COPY_URI": f"s3://{_settings().data_lake_bucket}/{COPY_KEY}"}


def transformation_function(stream: DeliveryStream, environment: Mapping[str, str] | None = None) -> LocalFunction:
    """The transformation Lambda, loaded from `lambdas/stream_transformation/`, logging to
    `.local/.../streaming/logs/<function>.log`; `environment` is its configuration (set before it loads)."""
    from lambdas.packaging import load_handler

    def load() -> Any:
        os.environ.update(function_environment() if environment is None else environment)
        return load_handler(FUNCTION, fresh=True)

    return LocalFunction(name=stream.function_name, arn=stream.function_arn, load=load,
                         log_path=state_dir() / "logs" / f"{stream.function_name}.log")


def open_firehose(stream: DeliveryStream | None = None, *, function: LocalFunction | None = None,
                  checkpoint_path: Path | None = None) -> LocalFirehose:
    """The platform's delivery stream on the local stack (names from `settings()`), resuming its checkpoints."""
    stream = stream or DeliveryStream.from_settings(_settings())
    return LocalFirehose(stream, function or transformation_function(stream),
                         kinesis=_client("kinesis"), s3=_client("s3"), cloudwatch=_client("cloudwatch"),
                         checkpoint_path=checkpoint_path or state_dir() / f"{stream.name}.checkpoints.json")


def generate(events: int, *, rate: float | None = None, mix: SessionMix | None = None, seed: int = 0,
             stream_name: str | None = None, catalogue: Catalogue | None = None) -> Produced:
    """Write `events` records (sessions and malformed ones) to the activity stream at `rate` per second."""
    catalogue = catalogue or catalogue_from_source()
    return put_records(_client("kinesis"), stream_name or _settings().activity_stream,
                       activity_records(catalogue, events, mix=mix, seed=seed), rate=rate)


@dataclass(frozen=True)
class Delivered:
    """What the delivery wrote, counted from the objects in the bucket."""

    ok: int
    fallback: int
    model_versions: Mapping[str, int]
    processing_failed: Mapping[str, int]
    """errorCode -> records under the error prefix."""

    @property
    def failed(self) -> int:
        return sum(self.processing_failed.values())


def count_delivered(s3: Any, bucket: str, report: DeliveryReport) -> Delivered:
    ok = fallback = 0
    versions: Counter[str] = Counter()
    for key in report.objects:
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines():
            record = json.loads(line)
            ok += 1
            fallback += bool(record.get("fallback"))
            versions[str(record.get("model_version"))] += 1
    codes: Counter[str] = Counter()
    for key in report.error_objects:
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines():
            codes[json.loads(line)["errorCode"]] += 1
    return Delivered(ok=ok, fallback=fallback, model_versions=dict(versions), processing_failed=dict(codes))


@dataclass(frozen=True)
class StreamCounts:
    """One end-to-end run: what went in, what came out."""

    events_in: int
    malformed_in: int
    delivered: Delivered
    objects: list[str]
    error_objects: list[str]
    bucket: str
    backlog: int
    """Records already in the stream before this run, delivered first and not counted here."""
    seconds: float

    @property
    def ok(self) -> int:
        return self.delivered.ok

    @property
    def processing_failed(self) -> int:
        return self.delivered.failed

    @property
    def balanced(self) -> bool:
        return self.events_in == self.ok + self.processing_failed

    def summary(self) -> str:
        lines = [
            f"{self.events_in:,} in = {self.ok:,} Ok + {self.processing_failed:,} ProcessingFailed out "
            f"({'balanced' if self.balanced else 'NOT BALANCED'}; {self.malformed_in:,} sent malformed) "
            f"in {self.seconds:.1f}s",
            f"  Ok records             {self.ok:,} in {len(self.objects)} object(s) under s3://{self.bucket}/"
            f"yyyy/mm/dd/hh/, {self.delivered.fallback:,} from the popular-products fallback",
            f"  model versions         {dict(self.delivered.model_versions)}",
            f"  ProcessingFailed       {self.processing_failed:,} in {len(self.error_objects)} object(s) under "
            f"s3://{self.bucket}/processing-failed/ {dict(self.delivered.processing_failed)}",
        ]
        if self.backlog:
            lines.append(f"  backlog                {self.backlog:,} earlier record(s) delivered first, not counted")
        return "\n".join(lines)


def stream_events(events: int, *, rate: float | None = None, malformed_share: float = 0.05, seed: int | None = None,
                  firehose: LocalFirehose | None = None, poll_interval: float = 0.2) -> StreamCounts:
    """Stream `events` user-activity events end to end on the local stack and count them back from the bucket.

    First delivers whatever the stream already held (the backlog, reported apart), then writes the events,
    then runs the local Firehose until the stream is drained and every buffer flushed."""
    started = time.monotonic()
    firehose = firehose or open_firehose()
    backlog = firehose.run(until_idle=True, poll_interval=poll_interval).read
    firehose.report = DeliveryReport()
    produced = generate(events, rate=rate, mix=SessionMix(malformed_share=malformed_share),
                        seed=seed if seed is not None else time.time_ns() % 2**32,
                        stream_name=firehose.stream.source_stream)
    report = firehose.run(until_idle=True, poll_interval=poll_interval)
    delivered = count_delivered(firehose.s3, firehose.stream.bucket, report)
    return StreamCounts(events_in=produced.records, malformed_in=produced.malformed, delivered=delivered,
                        objects=report.objects, error_objects=report.error_objects, bucket=firehose.stream.bucket,
                        backlog=backlog, seconds=time.monotonic() - started)
