"""SLA-miss alerts on the running platform: the scheduler notices the missed deadline, the triggerer publishes it
to SNS, an operator's SQS subscription receives it. On the test platform `platform_healthcheck`'s deadline is 3 s
(tests/platform/conftest.py), which its runs outlast."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from devstack.airflow_local.rest_api import AirflowApi
from tests.platform.conftest import HEALTHCHECK, HEALTHCHECK_DEADLINE_SECONDS, AlertsQueue

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def sla_alerts(healthcheck_run: dict[str, Any], alerts_queue: AlertsQueue) -> list[dict[str, Any]]:
    run_id = healthcheck_run["dag_run_id"]
    return alerts_queue.wait_for(lambda n: "SLA missed" in n.get("Subject", "") and run_id in n["Message"])


def test_a_run_outlasting_its_deadline_sends_one_sla_miss_alert(healthcheck_run: dict[str, Any],
                                                                 sla_alerts: list[dict[str, Any]]) -> None:
    assert healthcheck_run["state"] == "success"  # late is not failed: the alert is about time alone
    assert len(sla_alerts) == 1, sla_alerts


def test_the_alert_names_the_dag_the_run_and_the_deadline(healthcheck_run: dict[str, Any],
                                                          sla_alerts: list[dict[str, Any]]) -> None:
    (alert,) = sla_alerts
    assert alert["Subject"] == (f"[{HEALTHCHECK}] SLA missed: run not finished {HEALTHCHECK_DEADLINE_SECONDS} s "
                                "after it was queued")
    message = alert["Message"]
    assert f"{HEALTHCHECK} run {healthcheck_run['dag_run_id']} was not finished by its deadline" in message
    deadline = datetime.fromisoformat(re.search(r"^Deadline: (\S+ \S+) ", message, re.M).group(1))
    queued_at = datetime.fromisoformat(healthcheck_run["queued_at"])
    assert deadline - queued_at == timedelta(seconds=HEALTHCHECK_DEADLINE_SECONDS)
    assert f"DATAPLATFORM_PLATFORM_HEALTHCHECK_DEADLINE_SECONDS={HEALTHCHECK_DEADLINE_SECONDS}" in message
    state = re.search(r"^State at the deadline: (\w+)", message, re.M).group(1)
    assert state in {"queued", "running"}, message


def test_the_operator_sees_the_missed_deadline_on_the_run(api: AirflowApi, healthcheck_run: dict[str, Any],
                                                         sla_alerts: list[dict[str, Any]]) -> None:
    (deadline,) = api.deadlines(HEALTHCHECK, healthcheck_run["dag_run_id"])
    assert deadline["missed"] is True
    assert deadline["alert_name"] == f"{HEALTHCHECK} SLA"
    assert (datetime.fromisoformat(deadline["deadline_time"]) - datetime.fromisoformat(healthcheck_run["queued_at"])
            == timedelta(seconds=HEALTHCHECK_DEADLINE_SECONDS))
