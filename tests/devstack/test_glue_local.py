"""The local Glue endpoint (devstack/glue_local.py) on the test stack: Glue's API forwarded to moto, job runs
really run (spark-submit of small scripts that start no Spark session, so each run takes seconds), their real
state reported to boto3 and to the provider's sync and aiobotocore hooks. The export script itself runs through
the endpoint in tests/dags/test_training_data_export.py."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack import glue_local
from devstack.connections import StackConnections

pytestmark = [pytest.mark.stack, pytest.mark.spark]

ECHO = '''
import json, os, sys
from pathlib import Path
from urllib.parse import urlparse

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
out = Path(urlparse(args["--output_path"]).path)
(out / "part=a").mkdir(parents=True)
(out / "part=a" / "data.json").write_text(json.dumps(
    {"args": args, "jdbc": json.loads(os.environ.get("GLUE_LOCAL_JDBC_CONF", "null"))}))
(out / "part=a" / "_manifest.json").write_text("{}")
(out / "part=a" / "_SUCCESS").write_text("")
'''
FAIL = 'raise ValueError("boom: the source table is gone")\n'
SLEEP = "import time\ntime.sleep(600)\n"


@pytest.fixture(scope="module")
def names() -> str:
    return f"glue-local-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def bucket(stack_connections: StackConnections, names: str) -> Iterator[str]:
    s3 = stack_connections.aws_client("s3")
    s3.create_bucket(Bucket=names, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield names
    from dataplatform import s3 as s3_ops

    s3_ops.delete_keys(s3, names, s3_ops.list_keys(s3, names))
    s3.delete_bucket(Bucket=names)


@pytest.fixture(scope="module")
def glue(stack_connections: StackConnections):
    """boto3 Glue client on the local Glue endpoint."""
    return stack_connections.aws_client("glue")


@pytest.fixture(scope="module")
def moto_glue(stack_connections: StackConnections):
    return stack_connections.moto_client("glue")


@pytest.fixture(scope="module")
def glue_connection(moto_glue, names: str) -> str:
    moto_glue.create_connection(ConnectionInput={"Name": names, "ConnectionType": "JDBC", "ConnectionProperties": {
        "JDBC_CONNECTION_URL": "jdbc:mysql://db.example:3306/shop", "USERNAME": "reader", "PASSWORD": "s3cret"}})
    return names


@pytest.fixture
def make_job(stack_connections: StackConnections, glue, bucket: str, glue_connection: str
             ) -> Iterator[Callable[..., str]]:
    """Upload a script and create a Glue job running it (through the endpoint); returns the job name."""
    made: list[str] = []

    def make(script: str, **job: object) -> str:
        name = f"{bucket}-{len(made)}-{uuid.uuid4().hex[:4]}"
        stack_connections.aws_client("s3").put_object(Bucket=bucket, Key=f"scripts/{name}.py", Body=script.encode())
        glue.create_job(Name=name, Role="arn:aws:iam::123456789012:role/test", GlueVersion="5.0",
                        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/scripts/{name}.py"},
                        Connections={"Connections": [glue_connection]}, **job)
        made.append(name)
        return name

    yield make
    for name in made:
        for run in glue.get_job_runs(JobName=name)["JobRuns"]:
            if run["JobRunState"] in glue_local.RUNNING_STATES:
                glue.batch_stop_job_run(JobName=name, JobRunIds=[run["Id"]])
        glue.delete_job(JobName=name)


def wait_for(glue, job: str, run_id: str, states: frozenset[str] | set[str], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        if run["JobRunState"] in states:
            return run
        time.sleep(1)
    raise AssertionError(f"{job} {run_id} still {run['JobRunState']} after {timeout}s")


FINISHED = {"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT"}


def test_run_gets_glues_arguments_its_connection_and_publishes_its_output(
        glue, moto_glue, make_job, bucket: str, glue_connection: str, stack_connections: StackConnections) -> None:
    s3 = stack_connections.aws_client("s3")
    # GIVEN a job with default arguments, a stale object in the partition the run rewrites, another partition
    job = make_job(ECHO, DefaultArguments={"--a": "default", "--b": "default"})
    s3.put_object(Bucket=bucket, Key="out/part=a/stale.parquet", Body=b"old")
    s3.put_object(Bucket=bucket, Key="out/part=b/kept.parquet", Body=b"other")

    # WHEN a run starts with its own arguments
    run_id = glue.start_job_run(JobName=job, Arguments={"--b": "run", "--output_path": f"s3://{bucket}/out"})[
        "JobRunId"]

    # THEN it succeeds, and its script got the defaults overridden by the run's arguments, and Glue's own
    run = wait_for(glue, job, run_id, FINISHED)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["CompletedOn"] >= run["StartedOn"] and "ErrorMessage" not in run
    seen = json.loads(s3.get_object(Bucket=bucket, Key="out/part=a/data.json")["Body"].read())
    assert {k: seen["args"][k] for k in ("--a", "--b", "--JOB_NAME", "--JOB_RUN_ID")} == {
        "--a": "default", "--b": "run", "--JOB_NAME": job, "--JOB_RUN_ID": run_id}
    assert seen["args"]["--output_path"].startswith("file://")  # local Spark has no S3A
    # and the Glue connection's JDBC fields, as GlueContext.extract_jdbc_conf gives them on Glue
    assert seen["jdbc"] == {"url": "jdbc:mysql://db.example:3306", "fullUrl": "jdbc:mysql://db.example:3306/shop",
                            "user": "reader", "password": "s3cret", "vendor": "mysql"}
    # and the partition it wrote replaced the old one; the other partition is untouched
    from dataplatform.s3 import list_keys

    assert list_keys(s3, bucket, "out/") == ["out/part=a/_SUCCESS", "out/part=a/_manifest.json",
                                             "out/part=a/data.json", "out/part=b/kept.parquet"]
    # and moto recorded the run with its arguments; the endpoint lists it with its real state
    assert moto_glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]["Arguments"]["--b"] == "run"
    assert [(r["Id"], r["JobRunState"]) for r in glue.get_job_runs(JobName=job)["JobRuns"]] == [
        (run_id, "SUCCEEDED")]


def test_failing_script_fails_the_run_with_its_error_and_publishes_nothing(
        glue, make_job, bucket: str, stack_connections: StackConnections) -> None:
    job = make_job(FAIL)

    run_id = glue.start_job_run(JobName=job, Arguments={"--output_path": f"s3://{bucket}/failed"})["JobRunId"]

    run = wait_for(glue, job, run_id, FINISHED)
    assert run["JobRunState"] == "FAILED"
    assert "ValueError: boom: the source table is gone" in run["ErrorMessage"]
    assert "Contents" not in stack_connections.aws_client("s3").list_objects_v2(Bucket=bucket, Prefix="failed/")


def test_running_run_is_reported_running_to_the_provider_hooks_blocks_a_second_run_and_stops(
        glue, moto_glue, make_job) -> None:
    from airflow.providers.amazon.aws.hooks.glue import GlueJobHook

    job = make_job(SLEEP, ExecutionProperty={"MaxConcurrentRuns": 1})
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    wait_for(glue, job, run_id, {"RUNNING"})

    # moto alone would call it finished; the provider's hooks (aws_default: Glue -> endpoint) see it running
    assert moto_glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]["JobRunState"] == "SUCCEEDED"
    hook = GlueJobHook(aws_conn_id="aws_default")
    assert hook.get_job_state(job, run_id) == "RUNNING"
    assert asyncio.run(hook.async_get_job_state(job, run_id)) == "RUNNING"  # aiobotocore, as the trigger polls

    with pytest.raises(glue.exceptions.ConcurrentRunsExceededException):
        glue.start_job_run(JobName=job)

    stopped = glue.batch_stop_job_run(JobName=job, JobRunIds=[run_id, "jr_unknown"])
    assert stopped["SuccessfulSubmissions"] == [{"JobName": job, "JobRunId": run_id}]
    assert [e["JobRunId"] for e in stopped["Errors"]] == ["jr_unknown"]
    assert wait_for(glue, job, run_id, FINISHED, timeout=60)["JobRunState"] == "STOPPED"
    # and the job can run again
    again = glue.start_job_run(JobName=job)["JobRunId"]
    glue.batch_stop_job_run(JobName=job, JobRunIds=[again])


def test_run_the_endpoint_did_not_start_is_reported_failed(glue, moto_glue, make_job) -> None:
    job = make_job(ECHO)
    run_id = moto_glue.start_job_run(JobName=job)["JobRunId"]  # on moto directly: nothing runs it

    run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]

    assert run["JobRunState"] == "FAILED" and "nothing ran" in run["ErrorMessage"]


def test_everything_else_is_moto(glue, moto_glue, names: str) -> None:
    glue.create_database(DatabaseInput={"Name": names.replace("-", "_")})
    assert moto_glue.get_database(Name=names.replace("-", "_"))["Database"]["Name"] == names.replace("-", "_")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job(JobName=f"{names}-missing")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.start_job_run(JobName=f"{names}-missing")
    glue.delete_database(Name=names.replace("-", "_"))


def test_update_job_replaces_the_definition(glue, make_job, bucket: str) -> None:
    job = make_job(ECHO, DefaultArguments={"--a": "1"}, Timeout=30)
    current = glue.get_job(JobName=job)["Job"]

    glue.update_job(JobName=job, JobUpdate={"Role": current["Role"], "Command": current["Command"],
                                            "GlueVersion": "5.0", "DefaultArguments": {"--a": "2"}})

    updated = glue.get_job(JobName=job)["Job"]
    assert updated["DefaultArguments"] == {"--a": "2"}
    assert "Connections" not in updated  # UpdateJob overwrites the whole definition, as on AWS


# --- pure parts and S3 ----------------------------------------------------------------------------------------


def test_run_arguments_are_defaults_then_run_then_non_overridable() -> None:
    job = {"Name": "j", "DefaultArguments": {"--a": "d", "--b": "d", "--c": "d"},
           "NonOverridableArguments": {"--c": "fixed"}}
    assert glue_local.run_arguments(job, {"--b": "r", "--c": "r"}, "jr_1") == {
        "--a": "d", "--b": "r", "--c": "fixed", "--JOB_NAME": "j", "--JOB_ID": "j_j", "--JOB_RUN_ID": "jr_1"}


def test_publish_output_uploads_markers_last(stack_connections: StackConnections, bucket: str,
                                             tmp_path: Path) -> None:
    part = tmp_path / "export_date=2026-01-05"
    part.mkdir()
    for name in ("_SUCCESS", "_manifest.json", "part-00000.parquet", ".part-00000.parquet.crc",
                 "part-00001.parquet"):
        (part / name).write_text(name)

    written = glue_local.publish_output(tmp_path, stack_connections.aws_client("s3"), bucket, "publish/root")

    assert written == [f"publish/root/export_date=2026-01-05/{n}" for n in (
        "part-00000.parquet", "part-00001.parquet", "_manifest.json", "_SUCCESS")]
