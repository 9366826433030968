"""Shared fixtures. The test stack is the same embedded stack as the demo's, on its own ports and state
folder (`.local/test`), so tests never touch the demo's data. The environment is set before anything
imports Airflow. Connections to the stack are opened by `devstack.connections` (the one place that does)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_STACK = {"LOCAL_STATE_DIR": str(REPO / ".local" / "test"), "LOCAL_MYSQL_PORT": "3317", "LOCAL_PG_PORT": "5443",
              "LOCAL_MOTO_PORT": "5065", "LOCAL_GLUE_PORT": "5066", "LOCAL_AIRFLOW_PORT": "8180"}
for _name, _value in TEST_STACK.items():
    os.environ.setdefault(_name, _value)
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
"""`make test` runs two pytest-xdist workers (`-n 2`): each worker after the first gets a stack of its own, on
ports 100 apart and in its own state folder (the variables above, as the controller process set them, are
the base)."""
if WORKER:
    for _name in TEST_STACK:
        _base = os.environ[_name]
        os.environ[_name] = f"{_base}-gw{WORKER}" if _name == "LOCAL_STATE_DIR" else str(int(_base) + 100 * WORKER)

from devstack import stack  # noqa: E402
from devstack.connections import StackConnections  # noqa: E402
from devstack.env import local_env  # noqa: E402

CFG = stack.StackConfig.from_env()
STACK = StackConnections(CFG, stack.load_secrets(CFG))
os.environ.update(local_env(CFG, STACK.secrets))


SERVICE_FIXTURES = {"moto_server": "stack", "local_stack": "stack"}
"""A test that uses one of these fixtures, directly or through another, needs running services."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs a service `stack`, whether or not its module says so, so the fast lane
    (`make test-fast`: `-m "not stack and not spark"`) never starts one. The longest scopes first (see
    `worker_scope`), so that two xdist workers start on them at once."""
    for item in items:
        for fixture, marker in SERVICE_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()) and marker not in item.keywords:
                item.add_marker(marker)
    items.sort(key=lambda item: LONGEST_SCOPES.index(s) if (s := worker_scope(item.nodeid)) in LONGEST_SCOPES
               else len(LONGEST_SCOPES))


SHARED_EXPORT = ("tests/dags/test_reference_model_training.py", "tests/dags/test_training_data_export.py")
"""The modules using the session's training export (`export_run` in tests/dags/conftest.py, a Spark run)."""
LONGEST_SCOPES = ("tests/platform", "session export")


def worker_scope(nodeid: str) -> str:
    """What one xdist worker runs as a whole: a test module, so its module fixtures are made once; the platform
    tests together, so one worker starts the platform; the modules sharing the session's export together, so it
    runs once."""
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/platform/"):
        return "tests/platform"
    return "session export" if path in SHARED_EXPORT else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test`'s xdist scheduling: whole `worker_scope`s, in collection order (`--no-loadscope-reorder`).
    (xdist's own `--dist loadgroup` does not group under pytest 9: it renames `item._nodeid`, which pytest 9
    no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class WorkerScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_scope(nodeid)

    return WorkerScopes(config, log)


@pytest.fixture(scope="session")
def moto_server() -> StackConnections:
    """Only the moto server (for tests that need S3 and nothing else): its clients via `.aws_client()`."""
    stack.start_moto(CFG)
    return STACK


@pytest.fixture
def s3_client(moto_server: StackConnections):
    return moto_server.aws_client("s3")


@pytest.fixture(scope="session")
def local_stack(moto_server: StackConnections) -> Iterator[stack.StackConfig]:
    """MariaDB, PostgreSQL+pgvector, moto and the local Glue endpoint up, AWS resources created (the Glue
    connection included), Airflow's DB migrated."""
    from dataplatform.config import settings
    from devstack.aws_resources import create_resources

    stack.start(CFG)
    create_resources(settings(), STACK)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    yield CFG


@pytest.fixture(scope="session")
def stack_connections(local_stack: stack.StackConfig) -> StackConnections:
    """The running test stack's connections (MySQLdb, psycopg, boto3)."""
    return STACK


@pytest.fixture(scope="session")
def source_db_admin(stack_connections: StackConnections) -> dict:
    """host, port, user, password of the source's admin account: `MySQLdb.connect(**source_db_admin)` or
    `seed_source(**source_db_admin)`."""
    return stack_connections.source_admin_params()


@pytest.fixture(scope="session")
def seeded_source(source_db_admin: dict) -> dict[str, int]:
    """The sample-scale source, seeded once per session."""
    from devstack.seed import seed_source

    return seed_source(**source_db_admin, scale="sample")


@pytest.fixture(scope="session")
def vector_conninfo(stack_connections: StackConnections) -> str:
    """libpq connection string of the vector DB as the pipelines' role."""
    return stack_connections.vector_conninfo()


@pytest.fixture
def conninfo(vector_conninfo: str) -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards; connections made from this string work in it."""
    import secrets

    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    schema = f"test_{secrets.token_hex(4)}"
    with psycopg.connect(vector_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield make_conninfo(vector_conninfo, options=f"-c search_path={schema},public")
    with psycopg.connect(vector_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def pg_conn(stack_connections: StackConnections):
    """A psycopg 3 connection to the vector DB as the pipelines' role."""
    with stack_connections.vector_db() as conn:
        yield conn
