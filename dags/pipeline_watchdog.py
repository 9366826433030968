"""
# pipeline_watchdog

Every 5 minutes, checks that the streaming recommendations keep up and that the sales dashboard meets its
one-hour SLA, against thresholds kept in the repo as data (`include/freshness/watchdog.yaml`). One task per check:

| task | reads | breach when |
|---|---|---|
| `check_kinesis_iterator_age` | `AWS/Kinesis GetRecords.IteratorAgeMilliseconds` (Maximum, 10 min) | > 5 min |
| `check_firehose_data_freshness` | `AWS/Firehose DeliveryToS3.DataFreshness` (Maximum, 15 min) | > 15 min |
| `check_firehose_processing_success` | `AWS/Firehose ExecuteProcessing.Success` (Average, 15 min) | < 0.95 |
| `check_stream_transformation_errors` / `_throttles` | `AWS/Lambda Errors` / `Throttles` (Sum, 15 min) | > 0 / > 10 |
| `check_model_inference_errors` / `_throttles` | `AWS/Lambda Errors` / `Throttles` (Sum, 15 min) | > 5 / > 50 |
| `check_dashboard_freshness` | now minus the newest order time in `analytics.sales_hourly` | > 1 h (the SLA) |
| `check_recommendations_age` | newest object in the recommendations bucket's hourly partitions | > 20 min (if active) |
| `check_live_model_age` | now minus `went_live_at` of the live model version | > 9 days |
| `summarize_verdicts` | this run's verdicts (return value and log table) | fails if any check breaches |

CloudWatch is read with `GetMetricData` through the AWS hook's client (plain metric queries, one-minute periods,
reduced in the task; no metric math). A metric with **no datapoints** in its window is reported **idle** (nothing
flowing), not as a breach; the bucket check is idle while the delivery stream invokes no transformation.

**On a breach** the check's task fails (red in the grid, every run while it lasts) and an SNS alert to
`<prefix>-alerts` names the check, the value, the threshold and the runbook step. It is sent **once** when the
breach starts, then as a reminder every `realert_after_minutes` (60) while it lasts, and **once on recovery**;
idle verdicts neither close nor reopen a breach. The state lives in the verdict history
(`analytics.watchdog_verdicts`: every check of every run), so it survives restarts and retries. The DAG's generic
task-failure alert is skipped for breaches (already alerted) and kept for errors (a check that could not read).

**Inputs:** `aws_default` (CloudWatch, S3, SNS), `pg_vector` (`analytics.sales_hourly`, `model_versions`).
**Outputs:** `analytics.watchdog_verdicts`; SNS alerts. **Owner:** data-platform.

**Runbook:** the alert quotes the check's runbook step (`include/freshness/watchdog.yaml`). To change a threshold,
a window or the reminder period, edit that file (reviewed like code). A check task failing with an error instead
of a breach: its log names the call that failed (usually the connection or a missing permission).

**SLA:** a run not finished **4 min** after it was queued (`deadline_minutes` in the same file) sends an SLA-miss
alert: a stuck watchdog would otherwise be silent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from dataplatform.freshness import verdict_store, watchdog, watchdog_spec
from dataplatform.orchestration.connections import aws_client, vector_hook
from dataplatform.orchestration.dag_defaults import MACROS, alert_on_failure, configured, default_args, no_retry_on
from dataplatform.orchestration.deadlines import sla_miss_alert

SPEC = watchdog_spec.load()
REALERT_AFTER = timedelta(minutes=SPEC.realert_after_minutes)


def alert_on_error(context) -> None:
    """Breaches are alerted by the check itself (deduplicated), and the summary's failure only repeats its checks';
    any other failure gets the usual task-failure alert."""
    if not watchdog.already_alerted(context.get("exception")):
        alert_on_failure(context)


@dag(
    schedule="*/5 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={**default_args(), "on_failure_callback": alert_on_error},
    user_defined_macros=MACROS,
    deadline=sla_miss_alert("pipeline_watchdog", timedelta(minutes=SPEC.deadline_minutes),
                            "deadline_minutes in include/freshness/watchdog.yaml"),
    tags=["freshness", "watchdog", "streaming"],
    doc_md=__doc__,
)
def pipeline_watchdog():
    @task
    def create_verdict_table() -> None:
        with vector_hook().get_conn() as pg:
            verdict_store.ensure_table(pg)

    def check(name: str):
        @task(task_id=f"check_{name}")
        def run_check(run_id=None, ti=None) -> dict:
            s = configured()
            with vector_hook().get_conn() as pg:
                sources = watchdog.Sources(settings=s, cloudwatch=aws_client("cloudwatch"), s3=aws_client("s3"),
                                           pg=pg)
                verdict = watchdog.run_check(SPEC.check(name), sources, aws_client("sns"), run_id=run_id,
                                             realert_after=REALERT_AFTER)
            ti.xcom_push(key="return_value", value=verdict.payload())
            with no_retry_on(watchdog.BreachFound):
                return watchdog.raise_on_breach(verdict).payload()

        return run_check()

    @task(trigger_rule="all_done")
    def summarize_verdicts(run_id=None, ti=None) -> list[dict]:
        with vector_hook().get_conn() as pg:
            summary = watchdog.summarize(pg, SPEC, run_id)
        print(f"pipeline_watchdog verdicts (run {run_id}):\n{summary.table}")
        verdicts = [v.payload() for v in summary.verdicts]
        ti.xcom_push(key="return_value", value=verdicts)  # shown in the run even when it ends red
        with no_retry_on(watchdog.ChecksNotPassing):
            summary.raise_unless_passing()
        return verdicts

    create_verdict_table() >> [check(name) for name in SPEC.checks] >> summarize_verdicts()


pipeline_watchdog()
