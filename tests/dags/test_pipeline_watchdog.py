"""pipeline_watchdog end to end with dag.test(): metrics put into moto's CloudWatch, the dashboard table and the
recommendations bucket set to known states, alerts received from the SNS topic through an SQS subscription.

The verdict history is emptied before each test. The CloudWatch datapoints a test puts stay in moto for the
checks' windows (10-15 min): the test that puts a lagging Kinesis datapoint runs last.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from dataplatform.config import settings
from dataplatform.freshness.models import Verdict

DAG_ID = "pipeline_watchdog"

pytestmark = pytest.mark.stack


@pytest.fixture
def inbox(local_stack) -> Iterator[Callable[[], list[tuple[str, str]]]]:
    """An SQS queue subscribed to the alerts topic; `drain()` returns (subject, message) of the alerts received since
    the last call (and deletes them from the queue)."""
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName=f"watchdog-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sub = sns.subscribe(TopicArn=settings().alerts_topic_arn, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]

    def drain() -> list[tuple[str, str]]:
        out = []
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for m in msgs:
                body = json.loads(m["Body"])
                out.append((body.get("Subject", ""), body["Message"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return out

    yield drain
    sns.unsubscribe(SubscriptionArn=sub)
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def pg(stack_connections) -> Iterator[Any]:
    """The vector DB (autocommit) with an empty verdict history and an empty dashboard table."""
    from dataplatform.freshness import sales_table, verdict_store

    with stack_connections.vector_db(autocommit=True) as conn:
        sales_table.ensure_tables(conn)
        verdict_store.ensure_table(conn)
        conn.execute("TRUNCATE analytics.watchdog_verdicts, analytics.sales_hourly")
        yield conn


def _dashboard_newest(pg: Any, age: timedelta) -> None:
    """The dashboard table holds one group whose newest order is `age` old."""
    newest = datetime.now(UTC) - age
    pg.execute("TRUNCATE analytics.sales_hourly")
    pg.execute("INSERT INTO analytics.sales_hourly (order_hour, country, product_line, orders, units, revenue, "
               "last_event_at) VALUES (date_trunc('hour', %s::timestamptz), 'Spain', 'Ships', 1, 30, 1234.50, %s)",
               (newest, newest))


def _put(namespace: str, metric: str, dimensions: dict[str, str], value: float, unit: str) -> None:
    boto3.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[{
        "MetricName": metric, "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "Timestamp": datetime.now(UTC), "Value": value, "Unit": unit}])


def _recommendation_object() -> None:
    """A delivered object in the current hour's partition of the recommendations bucket."""
    key = datetime.now(UTC).strftime("%Y/%m/%d/%H/") + f"{settings().delivery_stream}-1-test-{uuid.uuid4()}"
    boto3.client("s3").put_object(Bucket=settings().recommendations_bucket, Key=key, Body=b"{}\n")


def _verdicts(results: dict) -> dict[str, Verdict]:
    return {v.check: v for v in map(Verdict.from_payload, results["summarize_verdicts"])}


def _about(check: str, alerts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(subject, message) for subject, message in alerts if f" {check}" in subject]


def test_healthy_streams_fresh_dashboard_and_idle_lambdas_alert_nobody(run_dag, pg, inbox) -> None:
    # GIVEN a fresh dashboard, Firehose metrics within their thresholds, a fresh object, no Lambda metrics at all
    # (Kinesis is left to the last test: its lagging datapoint stays in moto for the check's window, so a test
    # that expects Kinesis to be fine could not run again within 10 minutes; tests/plugins/freshness covers it)
    s = settings()
    _dashboard_newest(pg, timedelta(minutes=4))
    _put("AWS/Firehose", "DeliveryToS3.DataFreshness", {"DeliveryStreamName": s.delivery_stream}, 320, "Seconds")
    _put("AWS/Firehose", "ExecuteProcessing.Success", {"DeliveryStreamName": s.delivery_stream}, 1, "None")
    _recommendation_object()

    # WHEN the watchdog runs
    _, tasks, results = run_dag(DAG_ID)

    # THEN those checks pass, the Lambda checks are idle (no datapoints), and none of them alerted
    verdicts = _verdicts(results)
    for check in ("firehose_data_freshness", "firehose_processing_success", "dashboard_freshness",
                  "recommendations_age"):
        assert tasks[f"check_{check}"] == "success", check
        assert verdicts[check].status == "ok", verdicts[check]
    assert verdicts["firehose_data_freshness"].value == 320
    assert 240 <= verdicts["dashboard_freshness"].value < 600  # 4 min old when the run started
    for check in ("stream_transformation_errors", "stream_transformation_throttles", "model_inference_errors",
                  "model_inference_throttles"):
        assert tasks[f"check_{check}"] == "success"
        assert verdicts[check].status == "idle" and "no datapoints" in verdicts[check].detail
    alerts = inbox()
    assert not [a for a in alerts if a[0].split()[2].rstrip(":") in {
        "firehose_data_freshness", "firehose_processing_success", "dashboard_freshness", "recommendations_age",
        "stream_transformation_errors", "stream_transformation_throttles", "model_inference_errors",
        "model_inference_throttles"}], alerts
    # every check's verdict is in the history, with this run's id
    assert pg.execute("SELECT COUNT(DISTINCT check_name) FROM analytics.watchdog_verdicts").fetchone() == (10,)


def test_stale_dashboard_alerts_once_reminds_after_the_period_and_recovers_once(run_dag, pg, inbox) -> None:
    # GIVEN a dashboard whose newest order is 2 hours old (the SLA is 1 hour)
    _dashboard_newest(pg, timedelta(hours=2))

    # WHEN the watchdog runs, THEN the check fails (red) and one alert names check, value, threshold and runbook
    state, tasks, results = run_dag(DAG_ID)
    assert state == "failed"
    assert tasks["check_dashboard_freshness"] == "failed"
    assert tasks["summarize_verdicts"] == "failed"
    assert _verdicts(results)["dashboard_freshness"].status == "breach"  # the summary is there despite the red
    alerts = inbox()
    [(subject, message)] = _about("dashboard_freshness", alerts)
    # the failed check and summary tasks send no generic "task failed" alert on top of the breach alert
    assert not [s for s, _ in alerts if s.startswith(f"[{DAG_ID}] task ")], alerts
    assert subject.startswith(f"[{settings().prefix}] BREACH dashboard_freshness: 7,")
    assert "Threshold: breach above 3,600 s (60.0 min)" in message
    assert "Runbook: The sales dashboard is older than its 1-hour SLA" in message
    assert "(120." in message or "(119." in message

    # WHEN it runs again 5 minutes later and the breach lasts, THEN the task is red again but nobody is paged again
    _, tasks, _ = run_dag(DAG_ID)
    assert tasks["check_dashboard_freshness"] == "failed"
    assert _about("dashboard_freshness", inbox()) == []

    # WHEN the breach has lasted longer than realert_after_minutes (the history moved back 61 min)
    pg.execute("UPDATE analytics.watchdog_verdicts SET evaluated_at = evaluated_at - interval '61 minutes', "
               "breaching_since = breaching_since - interval '61 minutes' WHERE check_name = 'dashboard_freshness'")
    _, tasks, _ = run_dag(DAG_ID)
    # THEN one reminder, saying since when
    [(subject, message)] = _about("dashboard_freshness", inbox())
    assert "STILL BREACHING dashboard_freshness" in subject
    assert "Breaching since:" in message and "(1 h " in message

    # WHEN the refresh catches up, THEN the check passes and one recovery alert goes out, then silence
    _dashboard_newest(pg, timedelta(minutes=2))
    _, tasks, results = run_dag(DAG_ID)
    assert tasks["check_dashboard_freshness"] == "success"
    [(subject, message)] = _about("dashboard_freshness", inbox())
    assert "RECOVERED dashboard_freshness" in subject and "back within its threshold" in message
    assert _verdicts(results)["dashboard_freshness"].alert == "recovery"
    _, tasks, _ = run_dag(DAG_ID)
    assert tasks["check_dashboard_freshness"] == "success"
    assert _about("dashboard_freshness", inbox()) == []
    alerts = pg.execute("SELECT alert FROM analytics.watchdog_verdicts WHERE check_name = 'dashboard_freshness' "
                        "ORDER BY evaluated_at").fetchall()
    assert alerts == [("breach",), (None,), ("reminder",), ("recovery",), (None,)]


def test_lagging_kinesis_stream_fails_its_check_and_alerts(run_dag, pg, inbox) -> None:
    # GIVEN the delivery stream reading the activity stream 15 minutes behind (runs last: the datapoint stays)
    _dashboard_newest(pg, timedelta(minutes=4))
    _put("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", {"StreamName": settings().activity_stream}, 900_000,
         "Milliseconds")

    state, tasks, results = run_dag(DAG_ID)

    assert state == "failed"
    assert tasks["check_kinesis_iterator_age"] == "failed"
    assert tasks["check_dashboard_freshness"] == "success"
    verdict = _verdicts(results)["kinesis_iterator_age"]
    assert (verdict.status, verdict.value, verdict.threshold) == ("breach", 900_000, 300_000)
    [(subject, message)] = _about("kinesis_iterator_age", inbox())
    assert "BREACH kinesis_iterator_age: 900 s (15.0 min)" in subject
    assert "Threshold: breach above 300 s (5.0 min)" in message
    assert "GetRecords.IteratorAgeMilliseconds" in message and "Runbook: The delivery stream reads" in message
