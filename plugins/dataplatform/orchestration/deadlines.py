"""SLA-miss alerts: a Deadline Alert per DAG that publishes to the SNS alerts topic when a run is still not
finished a set time after it was queued.

The scheduler checks every run's deadline on each loop; when one passes, it queues the callback, and the
triggerer runs it: the Amazon provider's `SnsNotifier` class (importable wherever the provider is installed,
so nothing from `dags/` has to be importable by the triggerer), built with the kwargs below and awaited.
Its templates are rendered against what the scheduler hands the callback: `dag_run` (the run as the REST API
shows it, with its state at the deadline) and `deadline` (`deadline_time`).

The reference is the time the run was **queued** (`DAGRUN_QUEUED_AT`): scheduled, manual and Asset-triggered
runs all have one (the latter two have no meaningful logical date). The interval of each DAG is a setting,
`<dag_id>_deadline_seconds` (`config.Settings`), or, for the freshness DAGs, `deadline_minutes` in their
`include/freshness/*.yaml`; either is read when the DAG file is parsed: it is part of the DAG's definition, like
its schedule.

Known limits of Airflow 3.3.1, and what an operator sees:
- a run that **fails** before its deadline is not cleared from the deadline table (apache/airflow#60927): the
  SLA-miss alert still arrives at the deadline, after the failure alert. The message says the run's state at
  the deadline (`failed`), so it reads as "this run failed and never delivered", not as a slow run.
- `airflow dags test` and `dag.test()` never evaluate deadlines (apache/airflow#73428): deadlines are
  exercised by the running scheduler (`make up`; tests/platform/).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

from dataplatform.config import Settings, parse_time

SUBJECT = "[{{ dag_run.dag_id }}] SLA missed: run not finished {interval} after it was queued"

MESSAGE = (
    "SLA missed: {{ dag_run.dag_id }} run {{ dag_run.dag_run_id }} was not finished by its deadline.\n"
    "Deadline: {{ deadline.deadline_time }} ({interval} after the run was queued at {{ dag_run.queued_at }}; "
    "setting {setting})\n"
    "State at the deadline: {{ dag_run.state }}"
    "{% if dag_run.state == 'failed' %} (the run failed before its deadline; its task failure alert says why)"
    "{% else %} (still running: see the run's grid view for the task it is on){% endif %}\n"
    "Run type: {{ dag_run.run_type }}, started {{ dag_run.start_date }}\n"
    "Deadline id: {{ deadline.id }}"
)
"""Jinja, rendered by the notifier in the triggerer; `{interval}` and `{setting}` are filled in at parse."""


def interval_setting(dag_id: str) -> str:
    """The `Settings` field holding `dag_id`'s deadline interval (env `DATAPLATFORM_<DAG_ID>_DEADLINE_SECONDS`)."""
    name = f"{dag_id}_deadline_seconds"
    if name not in Settings.__dataclass_fields__:
        raise ValueError(f"no deadline setting for DAG {dag_id!r}: add {name} to dataplatform.config.Settings")
    return name


def describe(interval: timedelta) -> str:
    """`3 h`, `15 min`, `1 h 30 min`, `5 s`: how the interval reads in the alert."""
    seconds = int(interval.total_seconds())
    if seconds % 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "") if part)


def sla_miss_alert(dag_id: str, interval: timedelta | None = None, source: str | None = None) -> DeadlineAlert:
    """The DAG's deadline: an SNS alert to `<prefix>-alerts` when a run is unfinished `interval` after it was
    queued. The interval is the `<dag_id>_deadline_seconds` setting, or one given with its `source` (where it is
    set, quoted in the alert: e.g. a thresholds file). Parse time only reads settings and files: no network, no
    metadata DB."""
    s = parse_time()
    if interval is None:
        setting = interval_setting(dag_id)
        interval = timedelta(seconds=getattr(s, setting))
        source = f"DATAPLATFORM_{setting.upper()}={int(interval.total_seconds())}"
    elif not source:
        raise ValueError(f"{dag_id}: an explicit deadline interval needs its source (where it is set)")
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
