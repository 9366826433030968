"""Helpers for running DAGs end to end with `dag.test()` on the test stack."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def dags(local_stack) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture(scope="session")
def run_dag(dags) -> Callable:
    """Run one DAG with dag.test(); returns (state, {task_id: state}, {task_id: return value}).

    Each run parses the DAG file afresh, as a scheduler-created run would: dag.test() writes a run's conf into
    the DAG object's params, which would otherwise leak into the next run of the same object."""

    def run(dag_id: str, conf: dict | None = None):
        from airflow.dag_processing.dagbag import DagBag
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        dag = DagBag(dag_folder=dags[dag_id].fileloc).dags[dag_id]
        # dag.test() never evaluates deadlines, and in Airflow 3.3.1 it crashes after a *successful* run of a DAG
        # that declares one (apache/airflow#73428: DagRun.update_state gets the DAG object's DeadlineAlerts where
        # the serialized alert ids belong). The deadline is stripped here; deadlines are tested through the running
        # scheduler (tests/platform/test_deadline_alerts.py).
        dag.deadline = None
        dr = dag.test(logical_date=datetime.now(UTC), run_conf=conf or {})
        with create_session() as session:
            tis = {ti.task_id: ti.state for ti in dr.get_task_instances(session=session)}
            xcoms = {
                x.task_id: XComModel.deserialize_value(x)
                for x in session.query(XComModel).filter_by(dag_id=dag_id, run_id=dr.run_id, key="return_value")
            }
        return dr.state, tis, xcoms

    return run


@pytest.fixture(scope="session")
def task_tries(dags) -> Callable[[str], dict[str, int]]:
    """{task_id: try_number} of a DAG's newest run. dag.test() re-runs a task that is up for retry, so a final
    "failed" says nothing about retries: the try number says whether the task ran once or was retried."""

    def tries(dag_id: str) -> dict[str, int]:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            run = session.query(DagRun).filter_by(dag_id=dag_id).order_by(DagRun.id.desc()).first()
            return {ti.task_id: ti.try_number for ti in run.get_task_instances(session=session)}

    return tries


class ExportRun(NamedTuple):
    export_date: str
    state: str
    tasks: dict[str, str]
    results: dict[str, Any]


@pytest.fixture(scope="session")
def export_run(run_dag, seeded_source) -> Iterator[ExportRun]:
    """One `training_data_export` run of the sample source per session (local Spark, ~40 s), for the export's own
    tests and for the DAGs that train on its snapshot. Its date is one no other test exports; its objects are
    removed at the end of the session."""
    from dataplatform import s3 as s3_ops
    from dataplatform.batch.training_export import snapshot_key
    from dataplatform.config import settings

    export_date = "2030-01-07"
    yield ExportRun(export_date, *run_dag("training_data_export", {"export_date": export_date}))
    s3, bucket = boto3.client("s3"), settings().data_lake_bucket
    s3_ops.delete_keys(s3, bucket, s3_ops.list_keys(s3, bucket, snapshot_key(export_date) + "/"))


@pytest.fixture(scope="session")
def exported_snapshot(export_run: ExportRun):
    """The session export's snapshot (its `validate_snapshot` result, `handoffs.Snapshot`)."""
    from dataplatform.handoffs import Snapshot

    assert export_run.state == "success", export_run.tasks
    return Snapshot.from_payload(export_run.results["validate_snapshot"])


@pytest.fixture
def source(seeded_source, source_db_admin) -> Iterator:
    """Admin connection to the source; the source is re-seeded afterwards, whatever the test changed."""
    import MySQLdb

    from devstack.seed import seed_source

    conn = MySQLdb.connect(**source_db_admin, database="classicmodels", autocommit=True)
    yield conn
    conn.close()
    seed_source(**source_db_admin, scale="sample")


@pytest.fixture
def s3():
    return boto3.client("s3")


@pytest.fixture
def alerts() -> Iterator[Callable[[], list[str]]]:
    """An SQS queue subscribed to the SNS alerts topic: returns the alert messages received so far."""
    from dataplatform.config import settings

    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sub = sns.subscribe(TopicArn=settings().alerts_topic_arn, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]

    def received() -> list[str]:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"])["Message"] for m in msgs]

    yield received
    sns.unsubscribe(SubscriptionArn=sub)
    sqs.delete_queue(QueueUrl=url)
