"""What the watchdog reads, on moto (CloudWatch, S3) and PostgreSQL. Every test uses its own metric dimensions,
bucket or schema, so datapoints and objects of other tests never count."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dataplatform.freshness import measurements
from dataplatform.freshness.measurements import Measurement, dashboard_age, hour_prefixes, metric, newest_object_age
from dataplatform.freshness.verdicts import judge
from dataplatform.freshness.watchdog_spec import MetricQuery, load

SPEC = load()


@pytest.fixture
def cloudwatch(moto_server) -> Any:
    return moto_server.aws_client("cloudwatch")


def _query(namespace: str, name: str, window: int = 10) -> MetricQuery:
    return MetricQuery(namespace=namespace, metric=name, dimensions={"StreamName": "activity_stream"},
                       window_minutes=window)


def _put(cloudwatch: Any, query: MetricQuery, dims: dict[str, str], values: list[float],
         at: datetime | None = None) -> None:
    cloudwatch.put_metric_data(Namespace=query.namespace, MetricData=[
        {"MetricName": query.metric, "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
         "Timestamp": at or datetime.now(UTC), "Value": v} for v in values])


def test_iterator_age_above_the_threshold_is_a_breach(cloudwatch) -> None:
    spec, dims = SPEC.check("kinesis_iterator_age"), {"StreamName": f"test-{uuid.uuid4().hex}"}
    _put(cloudwatch, spec, dims, [1_000, 420_000, 2_000])

    reading = metric(cloudwatch, spec, dims, "Maximum", datetime.now(UTC))

    assert reading == Measurement(420_000, False, reading.detail)
    assert judge(spec, reading, datetime.now(UTC)).status == "breach"


def test_iterator_age_within_the_threshold_is_ok(cloudwatch) -> None:
    spec, dims = SPEC.check("kinesis_iterator_age"), {"StreamName": f"test-{uuid.uuid4().hex}"}
    _put(cloudwatch, spec, dims, [1_000, 2_500])

    reading = metric(cloudwatch, spec, dims, "Maximum", datetime.now(UTC))

    assert reading.value == 2_500 and judge(spec, reading, datetime.now(UTC)).status == "ok"


def test_no_datapoints_is_idle_not_a_breach(cloudwatch) -> None:
    spec, dims = SPEC.check("kinesis_iterator_age"), {"StreamName": f"test-{uuid.uuid4().hex}"}

    reading = metric(cloudwatch, spec, dims, "Maximum", datetime.now(UTC))

    assert reading.idle and reading.value is None and "no datapoints" in reading.detail
    assert judge(spec, reading, datetime.now(UTC)).status == "idle"


def test_datapoints_older_than_the_window_do_not_count(cloudwatch) -> None:
    spec, dims = SPEC.check("kinesis_iterator_age"), {"StreamName": f"test-{uuid.uuid4().hex}"}
    _put(cloudwatch, spec, dims, [900_000], at=datetime.now(UTC) - timedelta(minutes=spec.window_minutes + 2))

    assert metric(cloudwatch, spec, dims, "Maximum", datetime.now(UTC)).idle


def test_average_is_the_share_over_all_datapoints_and_sums_add_up(cloudwatch) -> None:
    success, dims = SPEC.check("firehose_processing_success"), {"DeliveryStreamName": f"test-{uuid.uuid4().hex}"}
    _put(cloudwatch, success, dims, [1, 1, 1, 0])
    _put(cloudwatch, success, dims, [1, 0], at=datetime.now(UTC) - timedelta(minutes=3))
    errors, fn = SPEC.check("stream_transformation_errors"), {"FunctionName": f"test-{uuid.uuid4().hex}"}
    _put(cloudwatch, errors, fn, [2, 1])
    _put(cloudwatch, errors, fn, [4], at=datetime.now(UTC) - timedelta(minutes=5))

    average = metric(cloudwatch, success, dims, "Average", datetime.now(UTC))
    total = metric(cloudwatch, errors, fn, "Sum", datetime.now(UTC))

    assert average.value == pytest.approx(4 / 6)
    assert judge(success, average, datetime.now(UTC)).status == "breach"  # below 0.95
    assert total.value == 7 and judge(errors, total, datetime.now(UTC)).status == "breach"


@pytest.fixture
def bucket(moto_server) -> Iterator[tuple[Any, str]]:
    s3, name = moto_server.aws_client("s3"), f"test-recommendations-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield s3, name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def test_newest_object_age_reads_the_recent_hour_partitions_only(bucket) -> None:
    s3, name = bucket
    now = datetime.now(UTC)
    s3.put_object(Bucket=name, Key=f"processing-failed/{now:%Y/%m/%d/%H}/err-1", Body=b"x")  # error output: ignored
    assert newest_object_age(s3, name, now, 3) == Measurement(None, False, f"no object in s3://{name}/ partitions "
                                                                           "of the last 3 h")
    s3.put_object(Bucket=name, Key=f"{(now - timedelta(hours=1)):%Y/%m/%d/%H}/reco-1", Body=b"{}\n")

    reading = newest_object_age(s3, name, datetime.now(UTC) + timedelta(minutes=30), 3)

    assert reading.value == pytest.approx(1800, abs=60)
    assert judge(SPEC.check("recommendations_age"), reading, now).status == "breach"  # > 20 min


def test_hour_prefixes_are_newest_first() -> None:
    assert hour_prefixes(datetime(2026, 1, 1, 0, 30, tzinfo=UTC), 2) == ["2026/01/01/00/", "2025/12/31/23/"]


def test_stale_and_fresh_dashboard() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    spec = SPEC.check("dashboard_freshness")
    stale = dashboard_age(now - timedelta(minutes=61), now)
    fresh = dashboard_age(now - timedelta(minutes=14), now)
    assert (stale.value, judge(spec, stale, now).status) == (3660, "breach")
    assert (fresh.value, judge(spec, fresh, now).status) == (840, "ok")
    assert judge(spec, dashboard_age(None, now), now).status == "breach"


def test_dashboard_freshness_is_read_from_the_table(pg_conn) -> None:
    from dataplatform.freshness import sales_table

    sales_table.ensure_tables(pg_conn)
    newest, now = sales_table.dashboard_freshness(pg_conn)
    table_newest = pg_conn.execute("SELECT MAX(last_event_at) FROM analytics.sales_hourly").fetchone()[0]
    assert newest == table_newest and now.tzinfo is not None
    pg_conn.rollback()


@pytest.fixture
def vector_schema(stack_connections) -> Iterator[Any]:
    """A connection whose search_path is a fresh schema holding the vector store's catalogue."""
    from dataplatform.vectordb import store

    schema = f"watchdog_{uuid.uuid4().hex[:8]}"
    with stack_connections.vector_db(autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    with stack_connections.vector_db(autocommit=True, options=f"-c search_path={schema},public") as pg:
        store.ensure_schema(pg)
        yield pg
    with stack_connections.vector_db(autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


def test_live_model_age_is_the_time_since_it_went_live(vector_schema) -> None:
    assert measurements.live_model_age(vector_schema).value is None  # nothing live: a breach
    vector_schema.execute(
        "INSERT INTO model_versions (version, slug, dimension, item_count, user_count, is_live, went_live_at) "
        "VALUES ('v1', 'v1', 32, 10, 10, true, clock_timestamp() - interval '10 days')")

    reading = measurements.live_model_age(vector_schema)

    assert reading.value == pytest.approx(10 * 86_400, abs=60) and "v1" in reading.detail
    assert judge(SPEC.check("live_model_age"), reading, datetime.now(UTC)).status == "breach"  # > 9 days
