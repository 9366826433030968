"""The SLA-miss alerts of `dashboard_sales_refresh` and `pipeline_watchdog` (an Airflow extension module).

The same Deadline Alert as every other DAG (`orchestration.deadlines`: SNS to the alerts topic from the triggerer,
counted from the time the run was queued, same subject and message), with the interval taken from the DAG's
`include/freshness/*.yaml` (`deadline_minutes`) instead of a `<dag_id>_deadline_seconds` setting, which
`dataplatform.config.Settings` does not define for these two DAGs. Read at parse time from repo files only.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

from dataplatform.config import parse_time
from dataplatform.orchestration.deadlines import MESSAGE, SUBJECT, describe


def sla_miss_alert(dag_id: str, interval: timedelta, source: str) -> DeadlineAlert:
    """An SNS alert when a run of `dag_id` is unfinished `interval` after it was queued; `source` names where the
    interval is set (quoted in the alert)."""
    s = parse_time()
    text = describe(interval)
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=interval,
        name=f"{dag_id} SLA",
        callback=AsyncCallback(SnsNotifier, kwargs={
            "aws_conn_id": s.aws_conn_id,
            "region_name": s.region,
            "target_arn": s.alerts_topic_arn,
            "subject": SUBJECT.replace("{interval}", text),
            "message": MESSAGE.replace("{interval}", text).replace("{setting}", source),
        }),
    )
