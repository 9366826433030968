"""The local Firehose on moto with the real transformation handler: every event in comes out once, Ok under its
arrival hour or ProcessingFailed under the error prefix, and the metrics AWS publishes can be read back.

Each test makes its own Kinesis stream and bucket from one unique id (deleted afterwards) and its own vector DB
schema with a live synthetic model for the seeded source's catalogue, so tests share nothing.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.streaming import synthetic_model
from devstack.streaming.firehose import Buffering, DeliveryStream, LocalFirehose
from devstack.streaming.pipeline import (
    count_delivered,
    function_environment,
    stream_events,
    transformation_function,
    vector_conninfo,
)
from devstack.streaming.producer import put_records
from devstack.streaming.sessions import ActivityRecord, Catalogue, SessionMix, activity_records
from devstack.streaming.source import catalogue_from_source

pytestmark = pytest.mark.stack
REGION, ACCOUNT = "eu-west-1", "123456789012"


@pytest.fixture(scope="module")
def catalogue(seeded_source) -> Catalogue:
    return catalogue_from_source()


@pytest.fixture(scope="module")
def function_env(catalogue: Catalogue) -> Iterator[dict[str, str]]:
    """The transformation's environment, pointed at a schema with a live model for the source's catalogue."""
    customers = sorted({c.customer_number for c in catalogue.customers})
    countries = sorted({c.country for c in catalogue.customers})
    with synthetic_model.model_schema(vector_conninfo(), catalogue.product_codes, customers, countries,
                                      prefix="fh") as conninfo:
        yield function_environment(conninfo)


@dataclass
class Resources:
    stream: DeliveryStream
    kinesis: Any
    s3: Any
    cloudwatch: Any
    checkpoints: Path
    env: dict[str, str]

    def firehose(self, *, clock: Any = time.time, **changes: Any) -> LocalFirehose:
        stream = replace(self.stream, **changes)
        return LocalFirehose(stream, transformation_function(stream, self.env), kinesis=self.kinesis, s3=self.s3,
                             cloudwatch=self.cloudwatch, checkpoint_path=self.checkpoints, clock=clock)

    def put(self, records: list[ActivityRecord]) -> None:
        put_records(self.kinesis, self.stream.source_stream, records)

    def lines(self, key: str) -> list[bytes]:
        return self.s3.get_object(Bucket=self.stream.bucket, Key=key)["Body"].read().splitlines()


@pytest.fixture
def resources(local_stack, function_env: dict[str, str], tmp_path: Path) -> Iterator[Resources]:
    uid = secrets.token_hex(4)
    kw = {"region_name": REGION}
    kinesis, s3, cloudwatch = boto3.client("kinesis", **kw), boto3.client("s3", **kw), boto3.client("cloudwatch", **kw)
    stream = DeliveryStream(name=f"t-{uid}-recommendations", source_stream=f"t-{uid}-user-activity",
                            bucket=f"t-{uid}-recommendations", region=REGION, account_id=ACCOUNT,
                            function_name=f"t-{uid}-stream-transformation")
    kinesis.create_stream(StreamName=stream.source_stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream.source_stream, WaiterConfig={"Delay": 1})
    s3.create_bucket(Bucket=stream.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    yield Resources(stream, kinesis, s3, cloudwatch, tmp_path / "checkpoints.json", function_env)
    kinesis.delete_stream(StreamName=stream.source_stream)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stream.bucket):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=stream.bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=stream.bucket)


def metric(cloudwatch: Any, namespace: str, name: str, dimensions: dict[str, str], stat: str,
           since: datetime) -> list[float]:
    """A plain metric query (no math expression): the stat per minute since `since`."""
    out = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "m", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]},
            "Period": 60, "Stat": stat}}],
        StartTime=since - timedelta(minutes=1), EndTime=datetime.now(UTC) + timedelta(minutes=1))
    return out["MetricDataResults"][0]["Values"]


def test_every_event_in_comes_out_once_ok_or_processing_failed(resources: Resources, catalogue: Catalogue) -> None:
    # GIVEN 400 records on two shards, a fifth of them malformed
    records = list(activity_records(catalogue, 400, mix=SessionMix(malformed_share=0.2), seed=11))
    resources.put(records)
    # WHEN the delivery stream runs until the stream is drained
    report = resources.firehose().run(until_idle=True, poll_interval=0.05)
    # THEN every record is delivered exactly once: Ok to the partitions, ProcessingFailed to the error prefix
    assert report.read == 400
    delivered = count_delivered(resources.s3, resources.stream.bucket, report)
    malformed = [r for r in records if r.malformed]
    assert delivered.ok + delivered.failed == 400
    assert delivered.processing_failed == {"Lambda.ProcessingFailedStatus": len(malformed)}
    assert report.dropped == 0
    ok_sessions = sorted(json.loads(line)["session_id"] for key in report.objects for line in resources.lines(key))
    assert ok_sessions == sorted(json.loads(r.data)["session_id"] for r in records if not r.malformed)
    raw_failed = sorted(base64.b64decode(json.loads(line)["rawData"])
                        for key in report.error_objects for line in resources.lines(key))
    assert raw_failed == sorted(r.data for r in malformed)
    assert delivered.model_versions == {"v1": delivered.ok}


def test_ok_records_are_partitioned_by_arrival_hour_and_errors_use_the_error_prefix(
        resources: Resources, catalogue: Catalogue) -> None:
    resources.put(list(activity_records(catalogue, 120, mix=SessionMix(malformed_share=0.25), seed=12)))
    report = resources.firehose().run(until_idle=True, poll_interval=0.05)
    assert report.objects and report.error_objects
    for key in report.objects:
        for line in resources.lines(key):
            arrived = datetime.fromisoformat(json.loads(line)["arrived_at"])
            assert key.startswith(arrived.strftime("%Y/%m/%d/%H/") + resources.stream.name + "-1-"), key
    for key in report.error_objects:
        assert key.startswith("processing-failed/"), key
        for line in resources.lines(key):
            error = json.loads(line)
            received = datetime.fromtimestamp(error["arrivalTimestamp"] / 1000, UTC)
            assert key.startswith(received.strftime("processing-failed/%Y/%m/%d/%H/"))
            assert error["errorCode"] == "Lambda.ProcessingFailedStatus"
            assert error["errorMessage"] == "ProcessingFailed status set for record"
            assert error["attemptsMade"] == 1
            assert error["lambdaArn"] == resources.stream.function_arn
            assert error["attemptEndingTimestamp"] >= error["arrivalTimestamp"]


def test_metrics_are_readable_through_get_metric_data(resources: Resources, catalogue: Catalogue) -> None:
    since = datetime.now(UTC)
    resources.put(list(activity_records(catalogue, 150, mix=SessionMix(malformed_share=0.1), seed=13)))
    report = resources.firehose(processing=Buffering(8 * 1024, 60)).run(until_idle=True, poll_interval=0.05)
    assert report.invocations > 1
    fh = {"DeliveryStreamName": resources.stream.name}
    cw = resources.cloudwatch
    assert sum(metric(cw, "AWS/Firehose", "DeliveryToS3.Records", fh, "Sum", since)) == report.ok
    assert set(metric(cw, "AWS/Firehose", "ExecuteProcessing.Success", fh, "Average", since)) == {1.0}
    assert sum(metric(cw, "AWS/Firehose", "ExecuteProcessing.Success", fh, "SampleCount", since)) == report.invocations
    freshness = metric(cw, "AWS/Firehose", "DeliveryToS3.DataFreshness", fh, "Maximum", since)
    assert freshness and 0 <= max(freshness) < 120
    ages = metric(cw, "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds",
                  {"StreamName": resources.stream.source_stream}, "Maximum", since)
    assert ages and max(ages) > 0  # the first read found records written before it started


def test_buffers_flush_by_size(resources: Resources, catalogue: Catalogue) -> None:
    resources.put(list(activity_records(catalogue, 200, mix=SessionMix(malformed_share=0.0), seed=14)))
    report = resources.firehose(processing=Buffering(16 * 1024, 900),
                                delivery=Buffering(64 * 1024, 900)).run(until_idle=True, poll_interval=0.05)
    assert report.invocations >= 3  # ~70 KB of events through a 16 KB processing buffer
    assert len(report.objects) >= 3  # several objects of ~64 KB (one partition: one arrival hour)
    sizes = [resources.s3.head_object(Bucket=resources.stream.bucket, Key=k)["ContentLength"]
             for k in report.objects]
    assert all(size >= 64 * 1024 for size in sizes[:-1] if len(report.objects) > 1)
    assert report.ok == 200


def test_buffers_flush_by_interval(resources: Resources, catalogue: Catalogue) -> None:
    now = [time.time()]
    firehose = resources.firehose(clock=lambda: now[0], processing=Buffering(1024 * 1024, 60),
                                  delivery=Buffering(64 * 1024 * 1024, 300))
    resources.put(list(activity_records(catalogue, 20, mix=SessionMix(malformed_share=0.0), seed=15)))
    assert firehose.step() == 20
    assert firehose.report.invocations == 0  # 20 small events: neither buffer is full nor old
    now[0] += 60
    firehose.step()
    assert firehose.report.invocations == 1 and firehose.report.objects == []
    now[0] += 240
    firehose.step()
    assert len(firehose.report.objects) == 1 and firehose.report.ok == 20


def test_a_restarted_runner_resumes_from_its_checkpoints(resources: Resources, catalogue: Catalogue) -> None:
    records = list(activity_records(catalogue, 90, mix=SessionMix(malformed_share=0.1), seed=16))
    resources.put(records[:60])
    first = resources.firehose().run(until_idle=True, poll_interval=0.05)
    assert first.read == 60
    # a runner that read and transformed but stopped before writing to S3 delivered nothing: not checkpointed
    resources.put(records[60:])
    crashed = resources.firehose()
    assert crashed.poll() == 30
    crashed.process(force=True)
    # the next runner starts after the last delivered record: the 30 again, none of the first 60
    second = resources.firehose().run(until_idle=True, poll_interval=0.05)
    assert second.read == 30
    assert second.ok + second.processing_failed == 30
    assert json.loads(resources.checkpoints.read_text())["shards"]


def test_stream_events_balances_n_in_with_ok_plus_processing_failed_out(
        resources: Resources, catalogue: Catalogue) -> None:
    resources.put(list(activity_records(catalogue, 25, seed=17)))  # a backlog from before the run
    counts = stream_events(150, malformed_share=0.1, seed=18, firehose=resources.firehose(), poll_interval=0.05)
    assert counts.backlog == 25
    assert counts.events_in == 150
    assert counts.balanced and counts.ok + counts.processing_failed == 150
    assert counts.processing_failed == counts.malformed_in
    assert "150 in = " in counts.summary()


def test_nothing_under_plugins_imports_the_local_streaming_tools() -> None:
    """The local runners stay out of the production path: no module of the package imports devstack."""
    import ast

    plugins = Path(__file__).resolve().parents[2] / "plugins"
    offenders = []
    for path in plugins.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(plugins)}: {n}" for n in names if n.split(".")[0] == "devstack"]
    assert offenders == []
