"""
# platform_healthcheck

Checks every dependency the pipelines use and reports each result; run it after every MWAA deploy
(it is also scheduled hourly, so a broken connection shows up before the weekly export needs it).

| task | passes when |
|---|---|
| `check_source` | the MySQL read replica answers, our user sees `classicmodels` and cannot write to it |
| `check_source_schema` | the source matches the export's contract (else SNS alert, the export's own message) |
| `check_vector_db` | PostgreSQL answers and the `pgvector` extension is installed (version reported) |
| `check_buckets` | data lake, ML artifacts, recommendations, Glue assets and MWAA buckets exist |
| `check_activity_stream` | the Kinesis user-activity stream is ACTIVE |
| `check_alerts_topic` | the SNS alerts topic exists |
| `report_health` | runs whatever happened above; fails if any check failed, listing them |

Schema drift is seen the day it appears on the replica, not at the next Monday export: the platform team
announces changes a week ahead, and the alert carries the message the export would fail with.
A check that finds a definite problem (a writable source user, a drifted schema, a missing extension) fails at
once; one that cannot reach its dependency retries twice first.

**Owner:** data-platform. **Runbook:** the failing task's log names the dependency and the fix;
connection ids are in `plugins/dataplatform/config.py`. Schema drift: update
`include/contracts/training_source.yaml` before the next Monday export (see `training_data_export`).

**SLA:** a run not finished **15 min** after it was queued (`DATAPLATFORM_PLATFORM_HEALTHCHECK_DEADLINE_SECONDS`,
default 900) sends an SLA-miss alert to the SNS alerts topic naming the DAG, the run, the deadline and the run's
state: a check that hangs instead of failing (a connection that never answers) raises no failure alert, so the
deadline is what tells you the hourly check is stuck.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from dataplatform import health
from dataplatform.batch import training_export
from dataplatform.batch.source_schema import SchemaDriftError
from dataplatform.orchestration.connections import aws_client, source_hook, vector_hook
from dataplatform.orchestration.dag_defaults import MACROS, configured, default_args, no_retry_on
from dataplatform.orchestration.deadlines import sla_miss_alert


@dag(
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    user_defined_macros=MACROS,
    deadline=sla_miss_alert("platform_healthcheck"),
    tags=["platform", "healthcheck"],
    doc_md=__doc__,
)
def platform_healthcheck():
    @task
    def check_source() -> dict:
        with source_hook().get_conn() as conn, no_retry_on(health.HealthCheckFailed):
            return health.check_source_is_read_only(conn, configured().source_database)

    @task
    def check_source_schema() -> dict:
        with source_hook().get_conn() as conn, no_retry_on(SchemaDriftError):
            return training_export.check_source_schema(conn, configured().source_database).as_dict()

    @task
    def check_vector_db() -> dict:
        with vector_hook().get_conn() as conn, no_retry_on(health.HealthCheckFailed):
            return health.check_pgvector(conn)

    @task
    def check_buckets() -> dict:
        with no_retry_on(health.HealthCheckFailed):
            return health.check_buckets(aws_client("s3"), configured().buckets)

    @task
    def check_activity_stream() -> dict:
        with no_retry_on(health.HealthCheckFailed):
            return health.check_stream_active(aws_client("kinesis"), configured().activity_stream)

    @task
    def check_alerts_topic() -> dict:
        return health.check_topic(aws_client("sns"), configured().alerts_topic_arn)

    checks = [check_source(), check_source_schema(), check_vector_db(), check_buckets(), check_activity_stream(),
              check_alerts_topic()]

    @task(trigger_rule="all_done", retries=0)
    def report_health(ti=None, run_id=None) -> dict:
        names = [c.operator.task_id for c in checks]
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=names, run_ids=[run_id])[run_id]
        with no_retry_on(health.HealthCheckFailed):
            return health.report(states, dict(zip(names, ti.xcom_pull(task_ids=names), strict=True)))

    checks >> report_health()


platform_healthcheck()
