"""Start, check and stop the local platform's components, each in its own process group.

`up` is idempotent: a component whose process is alive and whose configuration is unchanged is left running;
one that died is restarted; when the configuration changed (ports, a deadline interval...) all are restarted.
Readiness queries each component: the api-server answers `/api/v2/monitor/health` and issues a JWT for the
admin login; the scheduler, the triggerer and the dag-processor each have a heartbeat newer than their start;
the dag-processor has parsed every file in `dags/` with no import error.

`down` ends the process groups whose leaders are in the pid files, then any process left in their sessions (a
task runner puts itself in a process group of its own, in the same session) or carrying this platform's marker
in its environment, and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from devstack.airflow_local.rest_api import AirflowApi
from devstack.airflow_local.settings import ADMIN_USER, MARKER, METADATA_DB, METADATA_ROLE, PlatformConfig
from devstack.stack import HOST, REPO, load_secrets

COMPONENTS: dict[str, Callable[[PlatformConfig], list[str]]] = {
    "api-server": lambda cfg: ["api-server", "--host", HOST, "--port", str(cfg.port), "--workers", "1"],
    "scheduler": lambda cfg: ["scheduler", "--skip-serve-logs"],
    "dag-processor": lambda cfg: ["dag-processor"],
    "triggerer": lambda cfg: ["triggerer", "--skip-serve-logs"],
}
"""In start order; stopped in reverse (the scheduler before the api-server its running tasks talk to)."""

HEARTBEATS = {"scheduler": "latest_scheduler_heartbeat", "triggerer": "latest_triggerer_heartbeat",
              "dag-processor": "latest_dag_processor_heartbeat"}
HEALTH_KEYS = {"scheduler": "scheduler", "triggerer": "triggerer", "dag-processor": "dag_processor"}


class PlatformNotReady(RuntimeError):
    """A component did not become ready; the message names it and where its log is."""


# --- the metadata database -------------------------------------------------------------------------------------


def create_metadata_db(cfg: PlatformConfig) -> None:
    """The `airflow` role and database on the stack's PostgreSQL (as its superuser), created once; the role's
    password is (re)set to the generated one. Then `airflow db migrate` (a no-op when up to date)."""
    from psycopg import sql

    from devstack.connections import StackConnections

    password = cfg.platform_secrets().metadata_db
    stack = StackConnections(cfg.stack, load_secrets(cfg.stack))
    with stack.vector_db(superuser=True, dbname="postgres", autocommit=True) as pg:
        if not pg.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (METADATA_ROLE,)).fetchone():
            pg.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(METADATA_ROLE)))
        pg.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(METADATA_ROLE), sql.Literal(password)))
        if not pg.execute("SELECT 1 FROM pg_database WHERE datname = %s", (METADATA_DB,)).fetchone():
            pg.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(METADATA_DB),
                                                                   sql.Identifier(METADATA_ROLE)))
    migrate = subprocess.run(_airflow("db", "migrate"), env=cfg.environment(), cwd=REPO, capture_output=True,
                             text=True)
    if migrate.returncode:
        raise PlatformNotReady(f"airflow db migrate failed:\n{migrate.stdout[-2000:]}{migrate.stderr[-3000:]}")


# --- processes -------------------------------------------------------------------------------------------------


def _airflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow", *args]


def _pid_file(cfg: PlatformConfig, name: str) -> Path:
    return cfg.run_dir / f"{name}.pid"


def _reap(pid: int) -> None:
    """Collect the exit status of a leader this process started and that has ended (else it stays a zombie, which
    signal 0 still finds); nothing for any other process."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _leader(cfg: PlatformConfig, name: str) -> int | None:
    """The component's process group leader, if it is alive."""
    try:
        pid = int(_pid_file(cfg, name).read_text().strip())
        _reap(pid)
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def _group_alive(pgid: int) -> bool:
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _session(proc: Path) -> int:
    """The session id of a /proc entry (field 6 of `stat`, after the command name in parentheses)."""
    return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[3])


def platform_processes(cfg: PlatformConfig, sessions: set[int] | None = None) -> Iterator[int]:
    """This platform's processes: every process in the session of a component (each starts its own session, and
    what it forks stays in it even when it takes its own process group, as task runners do), and any process whose
    environment still carries the platform's marker (one that started a session of its own). `sessions`: the
    components' leaders; by default those in the pid files."""
    if sessions is None:
        sessions = {pid for name in COMPONENTS if (pid := _recorded(cfg, name))}
    marker = f"{MARKER}={cfg.state_dir}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if _session(proc) in sessions or marker in (proc / "environ").read_bytes().split(b"\0"):
                yield int(proc.name)
        except (OSError, ValueError, IndexError):  # gone, a zombie, or not ours to read
            continue


def _started_at(cfg: PlatformConfig, name: str) -> datetime:
    return datetime.fromtimestamp(_pid_file(cfg, name).stat().st_mtime).astimezone()


def _spawn(cfg: PlatformConfig, name: str, env: dict[str, str]) -> None:
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    cfg.log_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.log_dir / f"{name}.log", "ab") as log:
        log.write(f"\n===== {datetime.now().astimezone().isoformat()} starting {name} =====\n".encode())
        log.flush()
        proc = subprocess.Popen(_airflow(*COMPONENTS[name](cfg)), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=REPO, env=env)
    _pid_file(cfg, name).write_text(str(proc.pid))


def _end_group(pgid: int, grace: float) -> None:
    """SIGTERM the group, SIGKILL whatever is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if not _group_alive(pgid):
                return
            time.sleep(0.2)


def _recorded(cfg: PlatformConfig, name: str) -> int | None:
    """The leader's pid from the component's pid file, alive or not."""
    try:
        return int(_pid_file(cfg, name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _stop_component(cfg: PlatformConfig, name: str, grace: float = 30.0) -> None:
    pgid = _recorded(cfg, name)
    if pgid is not None:
        _end_group(pgid, grace)
        _pid_file(cfg, name).unlink(missing_ok=True)


def down(cfg: PlatformConfig) -> list[int]:
    """Stop every component (reverse start order), then any leftover descendant; returns the pids of leftovers
    that had to be ended one by one (none, normally). Idempotent."""
    sessions = {pid for name in COMPONENTS if (pid := _recorded(cfg, name))}
    for name in reversed(COMPONENTS):
        _stop_component(cfg, name)
    leftovers = list(platform_processes(cfg, sessions))
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    (cfg.run_dir / "fingerprint").unlink(missing_ok=True)
    return leftovers


# --- readiness -------------------------------------------------------------------------------------------------


def api(cfg: PlatformConfig) -> AirflowApi:
    """A REST API client logged in as the local admin."""
    return AirflowApi.login(cfg.url, ADMIN_USER, cfg.admin_password())


def expected_dag_ids() -> set[str]:
    return {p.stem for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_")}


def check(cfg: PlatformConfig) -> dict[str, str]:
    """Each component's state, from the component itself: "ready", or "DOWN (<why>)"."""
    states = {name: "ready" if _leader(cfg, name) else "DOWN (not running)" for name in COMPONENTS}
    if states["api-server"] != "ready":
        return states
    try:
        client = api(cfg)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        states["api-server"] = f"DOWN (no token from /auth/token: {exc})"
        return states
    try:
        health = client.health()
        if health["metadatabase"]["status"] != "healthy":
            states["api-server"] = f"DOWN (metadata DB {health['metadatabase']['status']})"
        for name, key in HEALTH_KEYS.items():
            if states[name] != "ready":
                continue
            info = health.get(key) or {}
            beat = info.get(HEARTBEATS[name])
            if info.get("status") != "healthy" or not beat:
                states[name] = f"DOWN (health: {info.get('status')}, last heartbeat {beat})"
            elif datetime.fromisoformat(beat) < _started_at(cfg, name):
                states[name] = f"DOWN (no heartbeat since its start; last {beat})"
        if states["dag-processor"] == "ready":
            errors = client.import_errors()
            missing = expected_dag_ids() - set(client.dags())
            if errors:
                states["dag-processor"] = "DOWN (import errors: " + "; ".join(
                    f"{e['filename']}: {e['stack_trace'].strip().splitlines()[-1]}" for e in errors) + ")"
            elif missing:
                states["dag-processor"] = f"DOWN (not parsed yet: {', '.join(sorted(missing))})"
    finally:
        client.close()
    return states


def wait_until_ready(cfg: PlatformConfig, timeout: float = 240.0) -> dict[str, str]:
    end = time.monotonic() + timeout
    while True:
        states = check(cfg)
        if all(s == "ready" for s in states.values()):
            return states
        dead = [n for n in COMPONENTS if not _leader(cfg, n)]
        if dead or time.monotonic() > end:
            why = "; ".join(f"{n}: {s}" for n, s in states.items() if s != "ready")
            raise PlatformNotReady(f"the local Airflow platform is not ready ({why}); logs in {cfg.log_dir}/")
        time.sleep(2.0)


# --- up --------------------------------------------------------------------------------------------------------


def up(cfg: PlatformConfig, timeout: float = 240.0) -> dict[str, str]:
    """Start whatever is not running (the local stack must be up), wait until every component is ready."""
    fingerprint_file = cfg.run_dir / "fingerprint"
    fingerprint = cfg.fingerprint()
    running = [n for n in COMPONENTS if _leader(cfg, n)]
    if running and (not fingerprint_file.exists() or fingerprint_file.read_text() != fingerprint):
        down(cfg)  # configuration changed: restart everything with the new one
        running = []
    if len(running) < len(COMPONENTS):
        create_metadata_db(cfg)
        env = cfg.environment()
        for name in COMPONENTS:
            if name not in running:
                _stop_component(cfg, name, grace=5.0)  # a dead leader's group may have survivors
                _spawn(cfg, name, env)
        fingerprint_file.write_text(fingerprint)
    return wait_until_ready(cfg, timeout)
