"""The real-Glue path: what training_data_export's `run_export_job` sends to AWS Glue, created and read back
through moto's Glue API (moto directly, not the local Glue endpoint: nothing runs), and the job updated when
`include/glue/jobs.yaml` changes (through the local Glue endpoint: moto has no UpdateJob; the endpoint
implements it as AWS defines it). Resource names come from one unique prefix per test."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dataplatform.batch.glue_jobs import GlueJobSpec
from dataplatform.batch.training_export import SNAPSHOT_ROOT, load_contract
from dataplatform.config import Settings, settings
from dataplatform.paths import glue_script, include_dir

REPO = Path(__file__).resolve().parents[3]
MOTO_CONN = "aws_moto_glue"
EXPORT_DATE = "2026-01-05"
RUN_ID = "manual__2026-01-05T03:00:00+00:00"


# --- pure ---------------------------------------------------------------------------------------------------


def test_spec_loads_every_field_of_jobs_yaml() -> None:
    spec = GlueJobSpec.load("training_data_export")
    raw = yaml.safe_load((include_dir() / "glue" / "jobs.yaml").read_text())["training_data_export"]
    assert {k: getattr(spec, k) for k in raw} == raw
    assert [s.key for s in GlueJobSpec.load_all()] == list(yaml.safe_load(
        (include_dir() / "glue" / "jobs.yaml").read_text()))


def test_unknown_job_names_the_jobs_file() -> None:
    with pytest.raises(KeyError, match=r"no Glue job 'nope'.*training_data_export"):
        GlueJobSpec.load("nope")


def test_deferred_wait_outlasts_the_jobs_own_timeout() -> None:
    spec = GlueJobSpec.load("training_data_export")
    kwargs = spec.operator_kwargs(Settings(prefix="p-x", region="eu-west-1", account_id="123456789012"))
    assert kwargs["waiter_delay"] == spec.poll_seconds
    assert kwargs["waiter_delay"] * kwargs["waiter_max_attempts"] > spec.timeout_minutes * 60
    assert kwargs["update_config"] and kwargs["stop_job_run_on_kill"]


# --- on moto ------------------------------------------------------------------------------------------------


@pytest.fixture
def glue_settings(moto_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings with a prefix of its own, and an AWS connection straight to moto (no local Glue endpoint)."""
    prefix = f"glue-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("DATAPLATFORM_PREFIX", prefix)
    monkeypatch.setenv(f"AIRFLOW_CONN_{MOTO_CONN.upper()}", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"region_name": "eu-west-1", "endpoint_url": moto_server.cfg.moto_endpoint}}))
    settings.cache_clear()
    s = settings()
    assert s.prefix == prefix
    yield s
    glue = moto_server.moto_client("glue")
    for name in glue.list_jobs()["JobNames"]:
        if name.startswith(prefix):
            glue.delete_job(JobName=name)
    settings.cache_clear()


@pytest.fixture
def moto_glue(moto_server):
    return moto_server.moto_client("glue")


def rendered_export_task(run_id: str = RUN_ID):
    """`run_export_job` as the DAG file defines it, its templates rendered as at task start."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "training_data_export.py"))
    assert bag.import_errors == {}
    task = bag.dags["training_data_export"].get_task("run_export_job")
    task.render_template_fields({"params": {"export_date": None}, "ds": EXPORT_DATE, "run_id": run_id})
    task.aws_conn_id = MOTO_CONN  # before `.hook` is first built
    return task


def script_arguments() -> list[str]:
    spec = importlib.util.spec_from_file_location("glue_job", glue_script("training_data_export.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ARGUMENTS


@pytest.mark.stack
def test_job_definition_and_run_arguments_are_what_glue_needs(glue_settings: Settings, moto_glue) -> None:
    s, spec = glue_settings, GlueJobSpec.load("training_data_export")
    task = rendered_export_task()

    # WHEN the operator's hook creates the job and starts a run, as on AWS
    run_id = task.hook.initialize_job(task.script_args, task.run_job_kwargs)["JobRunId"]

    # THEN the job is the spec, with every name derived from the prefix
    job = moto_glue.get_job(JobName=f"{s.prefix}-training-data-export")["Job"]
    assert job["Role"] == f"arn:aws:iam::{s.account_id}:role/{s.prefix}-glue"
    assert job["Command"]["Name"] == "glueetl"
    assert job["Command"]["ScriptLocation"] == f"s3://{s.prefix}-glue-assets/scripts/training_data_export.py"
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == (
        spec.glue_version, spec.worker_type, spec.number_of_workers, spec.timeout_minutes) == ("5.0", "G.1X", 4, 60)
    assert job["ExecutionProperty"]["MaxConcurrentRuns"] == 1
    assert job["Connections"] == {"Connections": [f"{s.prefix}-source-mysql-replica"]}
    assert job["DefaultArguments"] == {**spec.default_arguments,
                                       "--TempDir": f"s3://{s.prefix}-glue-assets/temp/training_data_export/"}
    # and the run carries every argument the script requires (Glue adds JOB_NAME), rendered
    arguments = moto_glue.get_job_run(JobName=job["Name"], RunId=run_id)["JobRun"]["Arguments"]
    assert arguments.items() >= {
        "--connection_name": f"{s.prefix}-source-mysql-replica",
        "--jdbc_driver": "com.mysql.cj.jdbc.Driver",
        "--source_database": "classicmodels",
        "--output_path": f"s3://{s.prefix}-data-lake/{SNAPSHOT_ROOT}",
        "--export_date": EXPORT_DATE,
        "--contract": load_contract().job_argument(),
        "--run_id": RUN_ID,
        "--num_partitions": "8",
        "--catalog_database": f"{s.prefix.replace('-', '_')}_lake",
        "--catalog_table": SNAPSHOT_ROOT,
    }.items()
    assert {f"--{name}" for name in script_arguments() if name != "JOB_NAME"} <= set(arguments)
    assert "{{" not in json.dumps(job, default=str) + json.dumps(arguments)


@pytest.mark.stack
def test_changed_jobs_yaml_updates_the_job_and_an_unchanged_one_does_not(
        local_stack, glue_settings: Settings, moto_glue, tmp_path: Path) -> None:
    from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

    def hook_for(spec: GlueJobSpec):  # aws_default: Glue calls go to the local Glue endpoint, then moto
        return GlueJobOperator(task_id="run_export_job", **spec.operator_kwargs(glue_settings)).hook

    # GIVEN the job as jobs.yaml defines it today
    original = GlueJobSpec.load("training_data_export")
    hook_for(original).create_or_update_glue_job()
    name = original.job_name(glue_settings)
    before = moto_glue.get_job(JobName=name)["Job"]
    # and the same spec again changes nothing
    unchanged = hook_for(original)
    assert unchanged.update_job(**unchanged.create_glue_job_config()) is False

    # WHEN jobs.yaml changes (more workers, a longer timeout, one more default argument)
    jobs = yaml.safe_load((include_dir() / "glue" / "jobs.yaml").read_text())
    jobs["training_data_export"] |= {"number_of_workers": 10, "timeout_minutes": 90}
    jobs["training_data_export"]["default_arguments"]["--enable-auto-scaling"] = "true"
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump(jobs))
    hook_for(GlueJobSpec.load("training_data_export", tmp_path / "jobs.yaml")).create_or_update_glue_job()

    # THEN the same job is updated in place
    after = moto_glue.get_job(JobName=name)["Job"]
    assert (after["NumberOfWorkers"], after["Timeout"]) == (10, 90)
    assert after["DefaultArguments"]["--enable-auto-scaling"] == "true"
    changed = {"NumberOfWorkers", "Timeout", "DefaultArguments", "LastModifiedOn",
               "CreatedOn"}  # the endpoint recreates the job in moto: a new CreatedOn (AWS keeps it)
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed}
