"""Airflow's public REST API (`/api/v2`), as the UI uses it: a JWT from `/auth/token`, then Bearer requests.

    api = AirflowApi.login(cfg.url, "admin", password)
    api.unpause("training_data_export")
    run = api.trigger("training_data_export", conf={"export_date": "2026-11-23"})
    run = api.wait_for_run("training_data_export", run["dag_run_id"])      # a finished run, or raises
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx

FINISHED = frozenset({"success", "failed"})


class RunNotFinished(TimeoutError):
    """A DAG run did not finish in the time given; the message names its state and its tasks' states."""


class AirflowApi:
    def __init__(self, base_url: str, token: str, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}"})

    @classmethod
    def login(cls, base_url: str, username: str, password: str) -> AirflowApi:
        """Exchange the login for a JWT at `/auth/token` (SimpleAuthManager's token endpoint)."""
        response = httpx.post(f"{base_url.rstrip('/')}/auth/token", json={"username": username, "password": password},
                              timeout=60.0)
        response.raise_for_status()
        return cls(base_url, response.json()["access_token"])

    def close(self) -> None:
        self.http.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in range(3 if method == "GET" else 1):  # a read is retried when the server is busy starting tasks
            try:
                response = self.http.request(method, f"/api/v2{path}", **kwargs)
                break
            except httpx.TransportError:
                if attempt == 2 or method != "GET":
                    raise
                time.sleep(5.0 * (attempt + 1))
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

    def trigger_due(self, dag_id: str, conf: Callable[[datetime], dict[str, Any]] | None = None,
                    note: str | None = None, unpause: bool = True) -> dict[str, Any]:
        """Trigger a run, for the DAG's due slot if it is paused with one (then unpause it unless told not to).

        Unpausing a DAG whose next slot (`next_dagrun_logical_date`, e.g. last Monday 03:00 for a weekly DAG that
        never ran) is already due makes the scheduler start a catch-up run for it at once; a run already in that
        slot makes it skip the slot instead. So a DAG that is paused with a due slot gets its run there; otherwise
        the run is for now. `conf` builds the run's conf from its logical date."""
        dag = self.dag(dag_id)
        now = datetime.now(UTC)
        due = dag["next_dagrun_logical_date"]
        logical_date = datetime.fromisoformat(due) if dag["is_paused"] and due and datetime.fromisoformat(due) <= now \
            else now
        try:
            run = self.trigger(dag_id, conf(logical_date) if conf else None, logical_date=logical_date, note=note)
        except httpx.HTTPStatusError as exc:  # the slot was taken meanwhile (409): a run for now, then
            if exc.response.status_code != 409 or logical_date == now:
                raise
            run = self.trigger(dag_id, conf(now) if conf else None, logical_date=now, note=note)
        if unpause and dag["is_paused"]:
            self.unpause(dag_id)
        return run

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def runs(self, dag_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest runs first."""
        return self._json("GET", f"/dags/{dag_id}/dagRuns",
                          params={"order_by": "-run_after", "limit": limit})["dag_runs"]

    def delete_run(self, dag_id: str, run_id: str) -> None:
        self._json("DELETE", f"/dags/{dag_id}/dagRuns/{run_id}")

    def upstream_asset_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The Asset events that started the run (each with its `source_run_id`)."""
        return self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents")["asset_events"]

    def deadlines(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's deadlines as the UI shows them (deadline_time, missed, alert_name): the UI's own API, `/ui`."""
        response = self.http.get(f"/ui/dags/{dag_id}/dagRuns/{run_id}/deadlines")
        response.raise_for_status()
        return response.json()["deadlines"]

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
