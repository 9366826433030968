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
    import airflow.api.common.trigger_dag  # noqa: F401 - what dag.test() imports lazily, imported here first
    from airflow.models import import_all_models
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy.orm import configure_mappers

    # The watcher's first query would configure SQLAlchemy's mappers (importing every model) while dag.test()
    # imports models in the main thread: two threads importing the same modules deadlock. Do it all here first.
    import_all_models()
    configure_mappers()

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


class _ThrottlingProxy:
    """A local HTTP proxy in front of the moto server that answers one Kinesis action with a real
    `LimitExceededException` (what Kinesis sends when throttling) while `throttle` is set."""

    def __init__(self, upstream: str, action: str) -> None:
        import http.server
        import urllib.request

        proxy = self
        self.throttle, self.throttled = True, 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # every Kinesis/SNS/S3-control call we make is a POST or GET
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.throttle and self.headers.get("X-Amz-Target", "").endswith("." + action):
                    proxy.throttled += 1
                    payload = b'{"__type": "LimitExceededException", "message": "Rate exceeded for stream"}'
                    self.send_response(400)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self._forward(body)

            def do_GET(self) -> None:
                self._forward(None)

            do_HEAD = do_GET

            def _forward(self, body: bytes | None) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(upstream + self.path, data=body, headers=headers,
                                                 method=self.command)
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, reply_headers, payload = response.status, response.headers.items(), response.read()
                except urllib.error.HTTPError as error:
                    status, reply_headers, payload = error.code, error.headers.items(), error.read()
                self.send_response(status)
                for key, value in reply_headers:
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_throttled_aws_call_is_retried_and_succeeds(run_dag, task_tries, seeded_source, monkeypatch) -> None:
    # GIVEN Kinesis throttles the stream check (botocore retries it a few times, then the task fails)...
    conn = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    proxy = _ThrottlingProxy(conn["extra"]["endpoint_url"], "DescribeStreamSummary")
    conn["extra"] = {**conn["extra"], "endpoint_url": proxy.url}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    # ...until the first try has failed
    watcher = _when_up_for_retry(DAG, "check_activity_stream", lambda: setattr(proxy, "throttle", False))
    try:
        state, tasks, results = run_dag(DAG)
    finally:
        watcher.join(timeout=1)
        proxy.close()
    # THEN the task was retried by Airflow and succeeded, after botocore's own retries of the throttled call
    assert proxy.throttled > 1
    assert task_tries(DAG)["check_activity_stream"] == 2
    assert state == "success", tasks
    assert results["check_activity_stream"]["status"] == "ACTIVE"
