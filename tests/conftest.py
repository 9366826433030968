"""Shared fixtures. The test stack is the same embedded stack as the demo's, on its own ports and state
folder (`.local/test`), so tests never touch the demo's data. The environment is set before anything
imports Airflow."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("LOCAL_STATE_DIR", str(REPO / ".local" / "test"))
os.environ.setdefault("LOCAL_MYSQL_PORT", "3317")
os.environ.setdefault("LOCAL_PG_PORT", "5443")
os.environ.setdefault("LOCAL_MOTO_PORT", "5065")

from devstack import stack  # noqa: E402
from devstack.env import local_env  # noqa: E402

CFG = stack.StackConfig.from_env()
SECRETS = stack.load_secrets(CFG)
os.environ.update(local_env(CFG, SECRETS))


@pytest.fixture(scope="session")
def local_stack() -> Iterator[stack.StackConfig]:
    """MariaDB, PostgreSQL+pgvector and moto up, AWS resources created, Airflow's DB migrated."""
    from dataplatform.config import settings
    from devstack.aws_resources import create_resources

    stack.start(CFG)
    create_resources(settings(), CFG.moto_endpoint)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    yield CFG


@pytest.fixture(scope="session")
def source_db_admin(local_stack: stack.StackConfig) -> dict:
    return {"host": stack.HOST, "port": local_stack.mysql_port, "user": stack.MYSQL_ADMIN_USER,
            "password": SECRETS.mysql_admin}


@pytest.fixture(scope="session")
def seeded_source(source_db_admin: dict) -> dict[str, int]:
    """The sample-scale source, seeded once per session."""
    from devstack.seed import seed_source

    return seed_source(**source_db_admin, scale="sample")


@pytest.fixture
def pg_conn(local_stack):
    """A psycopg 3 connection to the vector DB as the pipelines' user (from AIRFLOW_CONN_PG_VECTOR)."""
    import json

    import psycopg

    c = json.loads(os.environ["AIRFLOW_CONN_PG_VECTOR"])
    with psycopg.connect(host=c["host"], port=c["port"], user=c["login"], password=c["password"],
                         dbname=c["schema"]) as conn:
        yield conn
