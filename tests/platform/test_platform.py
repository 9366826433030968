"""The platform's processes: every component answers for itself, the metadata DB is PostgreSQL, `up` is
idempotent, and stopping leaves no process behind."""

from __future__ import annotations

import os
from datetime import datetime

import pytest

from devstack.airflow_local import PlatformConfig, components
from devstack.airflow_local.rest_api import AirflowApi
from devstack.airflow_local.settings import METADATA_DB
from devstack.connections import StackConnections
from devstack.env import local_env
from devstack.stack import load_secrets

pytestmark = pytest.mark.stack


def _pids(cfg: PlatformConfig) -> dict[str, int]:
    return {name: int((cfg.run_dir / f"{name}.pid").read_text()) for name in components.COMPONENTS}


def test_every_component_reports_a_heartbeat_since_it_started(airflow_platform: PlatformConfig,
                                                              api: AirflowApi) -> None:
    health = api.health()
    assert health["metadatabase"]["status"] == "healthy"
    for name, key in components.HEALTH_KEYS.items():
        started = datetime.fromtimestamp((airflow_platform.run_dir / f"{name}.pid").stat().st_mtime).astimezone()
        assert health[key]["status"] == "healthy", (name, health[key])
        assert datetime.fromisoformat(health[key][components.HEARTBEATS[name]]) >= started, name
    assert components.check(airflow_platform) == dict.fromkeys(components.COMPONENTS, "ready")


def test_every_dag_is_parsed_without_import_errors(api: AirflowApi) -> None:
    assert set(api.dags()) == components.expected_dag_ids()
    assert api.import_errors() == []


def test_the_metadata_db_is_its_own_postgresql_database(airflow_platform: PlatformConfig,
                                                        stack_connections: StackConnections) -> None:
    assert airflow_platform.environment()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    with stack_connections.vector_db(superuser=True, dbname=METADATA_DB) as db:
        dag_ids = {row[0] for row in db.execute("SELECT dag_id FROM dag")}
    assert dag_ids == components.expected_dag_ids()


def test_the_components_run_with_the_local_stacks_connections_and_settings(airflow_platform: PlatformConfig) -> None:
    env = airflow_platform.environment()
    local = local_env(airflow_platform.stack, load_secrets(airflow_platform.stack))
    shared = [k for k in local if k.startswith(("AIRFLOW_CONN_", "DATAPLATFORM_", "AWS_"))]
    assert {"AIRFLOW_CONN_MYSQL_SOURCE", "AIRFLOW_CONN_PG_VECTOR", "AIRFLOW_CONN_AWS_DEFAULT"} <= set(shared)
    assert {k: env[k] for k in shared} == {k: local[k] for k in shared}


def test_the_admin_password_is_generated_and_private(airflow_platform: PlatformConfig) -> None:
    assert airflow_platform.passwords_file.stat().st_mode & 0o077 == 0
    assert len(airflow_platform.admin_password()) >= 16
    assert airflow_platform.passwords_file.is_relative_to(airflow_platform.stack.state_dir)


def test_up_again_leaves_the_running_components_alone(airflow_platform: PlatformConfig) -> None:
    before = _pids(airflow_platform)
    assert components.up(airflow_platform, timeout=60) == dict.fromkeys(components.COMPONENTS, "ready")
    assert _pids(airflow_platform) == before


@pytest.mark.stops_platform
def test_down_ends_every_process_the_platform_started(airflow_platform: PlatformConfig,
                                                      stack_connections: StackConnections) -> None:
    groups = set(_pids(airflow_platform).values())
    descendants = set(components.platform_processes(airflow_platform))
    assert groups <= descendants  # every component carries the marker its descendants inherit

    leftovers = components.down(airflow_platform)

    assert leftovers == [], "processes outlived their group's SIGTERM/SIGKILL"
    assert list(components.platform_processes(airflow_platform)) == []
    for pid in descendants:
        assert not os.path.exists(f"/proc/{pid}"), pid
    assert not any((airflow_platform.run_dir / f"{name}.pid").exists() for name in components.COMPONENTS)
    assert set(components.check(airflow_platform).values()) == {"DOWN (not running)"}
    stack_connections.aws_client("s3").list_buckets()  # the stack is not the platform: still up
