"""The SLA-miss alerts as the DAGs declare them: which DAGs, counted from when, how long, to which topic, and the
message the triggerer renders. Pure definitions (no scheduler): the alert really firing is
`test_deadline_alerts.py`, on the running platform."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dataplatform.config import ConfigurationError, Settings, settings
from dataplatform.orchestration import deadlines

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))
SNS_NOTIFIER = "airflow.providers.amazon.aws.notifications.sns.SnsNotifier"
@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_every_dag_has_an_sla_miss_alert(dagbag) -> None:
    """Each of them has someone waiting on it: the data scientist, the site's recommendations, marketing's
    dashboard, the operator after a deploy, the watchdog's own silence."""
    assert {d.dag_id for d in dagbag.dags.values() if d.deadline} == {p.stem for p in DAG_FILES}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_the_alert_goes_to_sns_when_a_run_is_unfinished_its_interval_after_it_was_queued(dagbag, path: Path
                                                                                        ) -> None:
    from airflow.sdk import AsyncCallback, DeadlineReference

    dag = dagbag.dags[path.stem]
    (alert,) = dag.deadline
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT  # manual and Asset runs have no logical date
    setting = f"{dag.dag_id}_deadline_seconds"
    if setting in Settings.__dataclass_fields__:  # else a freshness DAG's thresholds file sets it
        assert alert.interval == timedelta(seconds=getattr(settings(), setting))
    assert isinstance(alert.callback, AsyncCallback)  # runs in the triggerer
    assert alert.callback.path == SNS_NOTIFIER
    kwargs = alert.callback.kwargs
    assert kwargs["target_arn"] == settings().alerts_topic_arn
    assert (kwargs["aws_conn_id"], kwargs["region_name"]) == (settings().aws_conn_id, settings().region)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_doc_md_states_the_interval_and_where_it_is_set(dagbag, path: Path) -> None:
    dag = dagbag.dags[path.stem]
    (alert,) = dag.deadline
    sla = " ".join(next(p for p in dag.doc_md.split("\n\n") if p.startswith("**SLA:**")).split())
    assert f"**{deadlines.describe(alert.interval)}**" in sla
    setting = f"{dag.dag_id}_deadline_seconds"
    if setting in Settings.__dataclass_fields__:
        default = Settings.__dataclass_fields__[setting].default
        assert f"`DATAPLATFORM_{setting.upper()}`" in sla and f"default {default}" in sla
    else:  # set elsewhere: the alert quotes where ("setting deadline_minutes in include/..."), the doc names it too
        source = re.search(r"setting (\S+)", alert.callback.kwargs["message"]).group(1)
        assert f"`{source}`" in sla, source


def test_the_interval_comes_from_the_environment_when_the_dag_is_parsed() -> None:
    env = {**os.environ, "DATAPLATFORM_TRAINING_DATA_EXPORT_DEADLINE_SECONDS": "5400"}
    code = ("from airflow.dag_processing.dagbag import DagBag; import sys; "
            "dag = DagBag(dag_folder=sys.argv[1]).dags['training_data_export']; "
            "print(dag.deadline[0].interval.total_seconds()); print(dag.deadline[0].callback.kwargs['subject'])")
    out = subprocess.run([sys.executable, "-c", code, str(REPO / "dags" / "training_data_export.py")], env=env,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[-2:] == ["5400.0", "[{{ dag_run.dag_id }}] SLA missed: run not finished 1 h 30 min after it was queued"]


@pytest.mark.parametrize("value", ["0", "-5", "1h", "2.5"])
def test_a_deadline_setting_that_is_not_a_positive_whole_number_is_refused(monkeypatch, value: str) -> None:
    monkeypatch.setenv("DATAPLATFORM_EMBEDDINGS_LOAD_DEADLINE_SECONDS", value)
    settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="embeddings_load_deadline_seconds must be"):
            settings()
    finally:
        monkeypatch.undo()
        settings.cache_clear()


def test_a_dag_without_a_deadline_setting_is_refused_naming_the_setting_to_add() -> None:
    with pytest.raises(ValueError, match=r"add sales_dashboard_refresh_deadline_seconds to dataplatform\.config"):
        deadlines.sla_miss_alert("sales_dashboard_refresh")


@pytest.mark.parametrize(("seconds", "text"), [(3, "3 s"), (90, "90 s"), (900, "15 min"), (3600, "1 h"),
                                                (5400, "1 h 30 min"), (10800, "3 h")])
def test_intervals_read_as_an_operator_would_write_them(seconds: int, text: str) -> None:
    assert deadlines.describe(timedelta(seconds=seconds)) == text


def _rendered(state: str) -> tuple[str, str]:
    """Subject and message as the triggerer renders them: the notifier built from the alert's kwargs and the
    context the scheduler hands the callback (`Deadline.handle_miss`: `dag_run` as the REST API shows it, and
    `deadline`), rendered the way awaiting it does."""
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    alert = deadlines.sla_miss_alert("training_data_export")
    queued = datetime(2026, 11, 23, 3, 0, 5, tzinfo=UTC)
    context = {
        "dag_run": {"dag_id": "training_data_export", "dag_run_id": "scheduled__2026-11-23T03:00:00+00:00",
                    "state": state, "run_type": "scheduled", "queued_at": queued.isoformat(),
                    "start_date": queued.isoformat()},
        "deadline": {"id": "0199d1d2-0000-7000-8000-000000000001", "deadline_time": queued + alert.interval},
    }
    notifier = SnsNotifier(**alert.callback.kwargs, context=context)
    notifier.render_template_fields(notifier._update_context(notifier.context))
    return notifier.subject, notifier.message


def test_the_alert_names_the_dag_the_run_and_the_deadline() -> None:
    subject, message = _rendered("running")
    assert subject == "[training_data_export] SLA missed: run not finished 3 h after it was queued"
    assert len(subject) < 100 and "\n" not in subject  # SNS: one line, under 100 characters
    assert "training_data_export run scheduled__2026-11-23T03:00:00+00:00 was not finished" in message
    assert re.search(r"Deadline: 2026-11-23 06:00:05\+00:00 \(3 h after the run was queued at "
                     r"2026-11-23T03:00:05\+00:00; setting DATAPLATFORM_TRAINING_DATA_EXPORT_DEADLINE_SECONDS="
                     r"10800\)", message)
    assert "State at the deadline: running (still running" in message


def test_a_run_that_failed_before_its_deadline_is_reported_as_failed_not_slow() -> None:
    """Airflow 3.3.1 still fires the deadline of a run that failed early (apache/airflow#60927)."""
    _, message = _rendered("failed")
    assert "State at the deadline: failed (the run failed before its deadline" in message
    assert "still running" not in message
