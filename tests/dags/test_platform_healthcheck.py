"""platform_healthcheck end to end on MariaDB, PostgreSQL and moto, through dag.test()."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from dataplatform.batch import training_export
from dataplatform.batch.source_schema import SchemaDriftError
from devstack.stack import HOST

pytestmark = pytest.mark.stack
DAG = "platform_healthcheck"


def test_every_check_passes_on_a_healthy_platform(run_dag, seeded_source) -> None:
    state, tasks, results = run_dag(DAG)
    assert state == "success", tasks
    assert results["check_source"]["user"].startswith("airflow_ro@")
    assert results["check_source_schema"]["errors"] == []
    assert results["check_vector_db"]["pgvector"]
    assert results["report_health"]["check_buckets"]["state"] == "success"


def test_admin_user_on_the_source_is_reported_not_accepted(run_dag, task_tries, seeded_source, source_db_admin,
                                                          alerts, monkeypatch) -> None:
    # GIVEN the source connection uses the admin user, who can write to classicmodels
    conn = json.loads(os.environ["AIRFLOW_CONN_MYSQL_SOURCE"])
    conn |= {"login": source_db_admin["user"], "password": source_db_admin["password"]}
    monkeypatch.setenv("AIRFLOW_CONN_MYSQL_SOURCE", json.dumps(conn))
    # WHEN the healthcheck runs
    state, tasks, _ = run_dag(DAG)
    # THEN check_source fails once (a definite finding, not retried), the report names it, and SNS says why
    assert state == "failed"
    assert tasks["check_source"] == "failed" and tasks["report_health"] == "failed"
    assert tasks["check_source_schema"] == "success"  # the admin sees the same schema
    assert task_tries(DAG)["check_source"] == 1
    sent = alerts()
    assert any("check_source" in m and "can write to classicmodels" in m for m in sent), sent
    assert any("failed checks: check_source" in m for m in sent), sent


def test_schema_drift_alerts_with_the_exports_message(run_dag, task_tries, source, alerts) -> None:
    # GIVEN the platform team changed a column the export reads
    source.cursor().execute("ALTER TABLE customers DROP COLUMN creditLimit")
    with pytest.raises(SchemaDriftError) as export_would_say:
        training_export.check_source_schema(source, "classicmodels")
    # WHEN the healthcheck runs (hourly: days before the Monday export)
    state, tasks, _ = run_dag(DAG)
    # THEN the drift check fails once and the alert carries the export's own message
    assert state == "failed" and tasks["check_source_schema"] == "failed"
    assert tasks["check_source"] == "success"
    assert task_tries(DAG)["check_source_schema"] == 1
    message = str(export_would_say.value)
    assert "customers.creditLimit: missing" in message
    assert any("check_source_schema" in m and message in m for m in alerts())


def _when_up_for_retry(dag_id: str, task_id: str, then, timeout: float = 120) -> threading.Thread:
    """Run `then()` once the task's first try has failed and it waits for its retry."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with create_session() as session:
                states = {ti.state for ti in session.query(TaskInstance).filter_by(dag_id=dag_id, task_id=task_id)}
            if "up_for_retry" in states:
                then()
                return
            time.sleep(0.2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_source_down_for_the_first_try_is_retried_and_succeeds(run_dag, task_tries, source) -> None:
    # GIVEN the read-only user cannot log in (the replica refuses connections)...
    user = json.loads(os.environ["AIRFLOW_CONN_MYSQL_SOURCE"])["login"]
    source.cursor().execute(f"ALTER USER '{user}'@'{HOST}' ACCOUNT LOCK")
    # ...until the first try has failed
    unlocked = _when_up_for_retry(DAG, "check_source",
                                  lambda: source.cursor().execute(f"ALTER USER '{user}'@'{HOST}' ACCOUNT UNLOCK"))
    try:
        state, tasks, _ = run_dag(DAG)
    finally:
        unlocked.join(timeout=1)
        source.cursor().execute(f"ALTER USER '{user}'@'{HOST}' ACCOUNT UNLOCK")
    # THEN the transient failure was retried and the run succeeded on the second try
    assert task_tries(DAG)["check_source"] == 2
    assert state == "success", tasks
