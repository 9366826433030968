"""Outside the local stack nothing is configured by default: tasks fail at start, once, saying what to set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataplatform.config import settings

pytestmark = pytest.mark.stack
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def unconfigured(monkeypatch) -> Iterator[None]:
    # The Assets are made once per process, when the package is first imported (Asset URIs are parse-time
    # values). Made here without configuration, they would keep placeholder URIs for every later test of this
    # process, and dag.test() would register those in the metadata DB: import them configured first.
    import dataplatform.orchestration.assets  # noqa: F401

    for name in list(os.environ):
        if name.startswith(("DATAPLATFORM_", "AIRFLOW__DATAPLATFORM__")):
            monkeypatch.delenv(name)
    settings.cache_clear()
    yield
    monkeypatch.undo()
    settings.cache_clear()


def test_every_task_fails_at_start_once_without_configuration(run_dag, task_tries, unconfigured) -> None:
    state, tasks, results = run_dag("platform_healthcheck")
    assert state == "failed"
    checks = {t: s for t, s in tasks.items() if t.startswith("check_")}
    assert set(checks.values()) == {"failed"}, tasks
    assert results == {}  # nothing ran far enough to return anything
    assert set(task_tries("platform_healthcheck").values()) == {1}  # a configuration error is not retried


def test_templated_resource_names_fail_to_render_naming_the_variable(unconfigured) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import AirflowFailException

    dag = DagBag(dag_folder=str(REPO / "dags" / "training_data_export.py")).dags["training_data_export"]
    task = dag.get_task("run_export_job")
    with pytest.raises(AirflowFailException, match=r"prefix is not set: set the environment variable "
                                                   r"DATAPLATFORM_PREFIX"):
        task.render_template(task.job_name, {}, jinja_env=dag.get_template_env())


def test_templated_resource_names_render_the_configured_values() -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "training_data_export.py")).dags["training_data_export"]
    task = dag.get_task("run_export_job")
    assert task.render_template(task.job_name, {}, jinja_env=dag.get_template_env()) == \
        f"{settings().prefix}-training-data-export"
