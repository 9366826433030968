"""Airflow's public REST API (`/api/v2`), as the UI uses it: a JWT from `/auth/token`, then Bearer requests.

    api = AirflowApi.login(cfg.url, "admin", password)
    api.unpause("training_data_export")
    run = api.trigger("training_data_export", conf={"export_date": "2026-11-23"})
    run = api.wait_for_run("training_data_export", run["dag_run_id"])      # a finished run, or raises
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx

FINISHED = frozenset({"success", "failed"})


class RunNotFinished(TimeoutError):
    """A DAG run did not finish in the time given; the message names its state and its tasks' states."""


class AirflowApi:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}"})

    @classmethod
    def login(cls, base_url: str, username: str, password: str) -> AirflowApi:
        """Exchange the login for a JWT at `/auth/token` (SimpleAuthManager's token endpoint)."""
        response = httpx.post(f"{base_url.rstrip('/')}/auth/token", json={"username": username, "password": password},
                              timeout=30.0)
        response.raise_for_status()
        return cls(base_url, response.json()["access_token"])

    def close(self) -> None:
        self.http.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"/api/v2{path}", **kwargs)
        if response.is_error:
            raise httpx.HTTPStatusError(f"{method} {path}: {response.status_code} {response.text[:500]}",
                                        request=response.request, response=response)
        return response.json() if response.content else None

    # --- the platform ----------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """metadatabase, scheduler, triggerer and dag_processor: status and latest heartbeat of each."""
        return self._json("GET", "/monitor/health")

    def import_errors(self) -> list[dict[str, Any]]:
        return self._json("GET", "/importErrors", params={"limit": 100})["import_errors"]

    def dags(self) -> dict[str, dict[str, Any]]:
        return {d["dag_id"]: d for d in self._json("GET", "/dags", params={"limit": 100})["dags"]}

    def dag(self, dag_id: str) -> dict[str, Any]:
        return self._json("GET", f"/dags/{dag_id}")

    # --- pause, trigger, watch -------------------------------------------------------------------------------

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        return self._json("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def unpause(self, dag_id: str) -> dict[str, Any]:
        return self.set_paused(dag_id, False)

    def pause(self, dag_id: str) -> dict[str, Any]:
        return self.set_paused(dag_id, True)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: datetime | None = None,
                note: str | None = None) -> dict[str, Any]:
        """A manual run, as the UI's trigger button creates it (logical date: now unless given)."""
        body = {"logical_date": (logical_date or datetime.now(UTC)).isoformat(), "conf": conf or {}}
        if note:
            body["note"] = note
        return self._json("POST", f"/dags/{dag_id}/dagRuns", json=body)

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def runs(self, dag_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest runs first."""
        return self._json("GET", f"/dags/{dag_id}/dagRuns",
                          params={"order_by": "-run_after", "limit": limit})["dag_runs"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        tis = self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        entry = self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
                           params={"deserialize": True, "stringify": False})
        return entry["value"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900.0, poll: float = 2.0) -> dict[str, Any]:
        """The run once it has finished (success or failed); `RunNotFinished` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in FINISHED:
                return run
            if time.monotonic() > deadline:
                raise RunNotFinished(f"{dag_id} run {run_id} is still {run['state']} after {timeout:.0f}s: "
                                     f"{self.task_states(dag_id, run_id)}")
            time.sleep(poll)

    def wait_for_new_run(self, dag_id: str, known: Iterable[str], timeout: float = 300.0,
                         poll: float = 2.0) -> dict[str, Any]:
        """The first run of `dag_id` whose id is not in `known` (e.g. one an Asset event starts)."""
        known = set(known)
        deadline = time.monotonic() + timeout
        while True:
            new = [r for r in self.runs(dag_id) if r["dag_run_id"] not in known]
            if new:
                return new[-1]
            if time.monotonic() > deadline:
                raise RunNotFinished(f"no new {dag_id} run after {timeout:.0f}s")
            time.sleep(poll)
