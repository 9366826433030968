"""Airflow's REST API on the running platform, used as the UI and the demo use it: JWT login, trigger, pause."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from devstack.airflow_local import PlatformConfig
from devstack.airflow_local.rest_api import AirflowApi
from tests.platform.conftest import HEALTHCHECK

pytestmark = pytest.mark.stack


def test_a_run_triggered_through_the_rest_api_succeeds(api: AirflowApi, healthcheck_run: dict[str, Any]) -> None:
    assert healthcheck_run["state"] == "success"
    assert healthcheck_run["run_type"] == "manual"
    tasks = api.task_states(HEALTHCHECK, healthcheck_run["dag_run_id"])
    assert tasks and set(tasks.values()) == {"success"}, tasks


def test_the_api_refuses_a_request_without_a_token(airflow_platform: PlatformConfig) -> None:
    response = httpx.get(f"{airflow_platform.url}/api/v2/dags", timeout=60)
    assert response.status_code == 401


def test_a_wrong_password_gets_no_token(airflow_platform: PlatformConfig) -> None:
    with pytest.raises(httpx.HTTPStatusError) as error:
        AirflowApi.login(airflow_platform.url, "admin", "not-the-password")
    assert error.value.response.status_code == 401


@pytest.fixture(scope="module")
def paused_then_unpaused(api: AirflowApi) -> dict[str, Any]:
    """GIVEN platform_healthcheck paused through the API, WHEN a run is triggered, it waits; THEN unpaused, it runs.
    What was seen at each step."""
    paused = api.pause(HEALTHCHECK)
    run = api.trigger_due(HEALTHCHECK, note="tests/platform: paused", unpause=False)
    time.sleep(20)  # ten scheduler loops
    while_paused = api.run(HEALTHCHECK, run["dag_run_id"])
    tasks_while_paused = api.task_states(HEALTHCHECK, run["dag_run_id"])
    unpaused = api.unpause(HEALTHCHECK)
    finished = api.wait_for_run(HEALTHCHECK, run["dag_run_id"], timeout=600)
    return {"paused": paused, "while_paused": while_paused, "tasks_while_paused": tasks_while_paused,
            "unpaused": unpaused, "seen_after": api.dag(HEALTHCHECK), "finished": finished}


def test_a_run_of_a_paused_dag_waits_in_the_queue(paused_then_unpaused: dict[str, Any]) -> None:
    assert paused_then_unpaused["paused"]["is_paused"] is True
    assert paused_then_unpaused["while_paused"]["state"] == "queued"
    assert not any(paused_then_unpaused["tasks_while_paused"].values()), "a task started while paused"


def test_unpausing_lets_the_waiting_run_run_to_success(paused_then_unpaused: dict[str, Any]) -> None:
    assert paused_then_unpaused["unpaused"]["is_paused"] is False
    assert paused_then_unpaused["seen_after"]["is_paused"] is False
    assert paused_then_unpaused["finished"]["state"] == "success"
