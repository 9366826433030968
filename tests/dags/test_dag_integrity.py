"""Every DAG imports, follows the house rules, and touches nothing at import time."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from dataplatform.orchestration.dag_defaults import MACROS, OWNER, check_configuration

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="session")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_one_dag_per_file_named_after_the_file(dagbag) -> None:
    assert sorted(dagbag.dag_ids) == sorted(p.stem for p in DAG_FILES)
    for dag in dagbag.dags.values():
        assert Path(dag.fileloc).stem == dag.dag_id


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_follows_house_rules(dagbag, path: Path) -> None:
    dag = dagbag.dags[path.stem]
    assert dag.tags, "tags"
    assert dag.doc_md and len(dag.doc_md) > 100, "doc_md explains the pipeline"
    for t in dag.tasks:
        assert t.owner == OWNER, t.task_id
        assert t.retries >= 2 or t.trigger_rule == "all_done", f"{t.task_id} retries"
        assert isinstance(t.retry_delay, timedelta) and t.retry_delay.total_seconds() > 0, t.task_id
        assert t.on_failure_callback, f"{t.task_id} has no failure alert"
        pre_execute = t.partial_kwargs.get("pre_execute") if hasattr(t, "partial_kwargs") else t._pre_execute_hook
        assert pre_execute is check_configuration, f"{t.task_id} does not check the configuration at start"
    assert dag.user_defined_macros == MACROS, "templated settings need the dataplatform macro"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_catchup_and_max_active_runs_are_explicit(path: Path) -> None:
    decorators = [
        d for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) for d in node.decorator_list
        if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "dag"
    ]
    assert len(decorators) == 1
    keywords = {k.arg for k in decorators[0].keywords}
    assert {"catchup", "max_active_runs", "schedule", "start_date"} <= keywords


IMPORT_WITH_NOTHING_REACHABLE = """
import socket, sys
def refuse(*a, **k):
    raise RuntimeError("DAG import opened a network connection")
socket.socket.connect = refuse
socket.create_connection = refuse
import airflow.sdk
from airflow.sdk import Variable
def no_variables(*a, **k):
    raise RuntimeError("DAG import read a Variable")
Variable.get = no_variables
import sqlalchemy.engine
def no_db(*a, **k):
    raise RuntimeError("DAG import opened a metadata DB session")
sqlalchemy.engine.Engine.connect = no_db
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
assert len(bag.dags) == int(sys.argv[2]), bag.dag_ids
print("ok", sorted(bag.dag_ids))
"""


def _import_with_nothing_reachable(dags: Path, expected: int, env: dict[str, str] | None = None
                                   ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", IMPORT_WITH_NOTHING_REACHABLE, str(dags), str(expected)],
        capture_output=True, text=True, env=env,
    )


def test_import_touches_no_network_db_or_variable() -> None:
    result = _import_with_nothing_reachable(REPO / "dags", len(DAG_FILES))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1].startswith("ok")


def test_import_needs_no_configuration() -> None:
    """A DAG file parses with no DATAPLATFORM_* setting at all (CI, a laptop, a fresh environment); its tasks
    then fail at start (tests/dags/test_configuration.py)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATAPLATFORM_", "AIRFLOW__DATAPLATFORM__"))}
    result = _import_with_nothing_reachable(REPO / "dags", len(DAG_FILES), env)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("body", [
    "from airflow.sdk import Variable\nVariable.get('x')",
    "import socket\nsocket.create_connection(('127.0.0.1', 9))",
])
def test_import_trap_catches_a_dag_that_reaches_out(tmp_path: Path, body: str) -> None:
    (tmp_path / "bad.py").write_text(body + "\nfrom airflow.sdk import dag\n")
    result = _import_with_nothing_reachable(tmp_path, 0)
    assert result.returncode != 0
    assert "DAG import" in result.stderr


def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(REPO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
