"""The local AWS Glue endpoint: moto's Glue API, except that job runs really run, on local PySpark.

    python -m devstack.glue_local --port 5056 --moto-endpoint http://127.0.0.1:5055 --work-dir .local/glue

`devstack/stack.py` starts it with the other services. The pipelines know nothing about it: the `aws_default`
connection routes the `glue` service here (`service_config.glue.endpoint_url`, `devstack/env.py`) and every
other service to moto, so the provider's `GlueJobOperator`, `GlueJobHook` and the deferred
`GlueJobCompleteTrigger` (aiobotocore) make exactly the calls they make against AWS Glue.

It speaks Glue's JSON 1.1 protocol and forwards every request to moto unchanged (jobs, connections, the Data
Catalog, ... live in moto), except:

- **StartJobRun** is forwarded too (moto records the run and its Arguments and returns its id), then the run
  is started here: the job's script is fetched from its `Command.ScriptLocation` in (moto) S3 and run with
  `spark-submit` on local Spark 3.5 (as Glue 5.0), with the job's `DefaultArguments` overridden by the run's
  `Arguments` (and `NonOverridableArguments` last), plus `--JOB_NAME`, `--JOB_ID` and `--JOB_RUN_ID`, as Glue
  passes them. The job's `MaxConcurrentRuns` and `Timeout` (or the run's) are enforced.
- **GetJobRun** / **GetJobRuns** answer moto's record of the run with the local run's real state: RUNNING, then
  SUCCEEDED, FAILED (with `ErrorMessage`: the script's exception), STOPPED or TIMEOUT, and its real
  start, completion and execution time. A run this process did not start (the endpoint was restarted) is
  reported FAILED: nothing is running it.
- **BatchStopJobRun** (moto has none) stops the local run.
- **UpdateJob** (moto has none) replaces the job in moto: deleted and created again with the `JobUpdate`, which
  is what UpdateJob means on AWS too (the whole definition is overwritten). moto forgets its records of the
  job's earlier runs and gives the job a new `CreatedOn`.

What differs from AWS Glue, and why:

- *Output.* Local Spark has no S3A file system (its jars are not reachable here), so the `--output_path`
  argument (`s3://bucket/prefix`) is replaced by a local folder. When the script succeeds, each folder it wrote
  at the top of that folder (a partition such as `export_date=2026-01-05/`) replaces the same prefix in the
  moto bucket: old objects removed, data files uploaded, then `_manifest.json` and `_SUCCESS` last, so a reader
  never sees a marker beside partial data. A failed run uploads nothing (on AWS it may leave partial data
  without its marker).
- *JDBC.* As on AWS, the source's URL and credentials are in the job's Glue connection (the `--connection_name`
  argument, else the job's first connection), created in moto by `devstack/aws_resources.py`. The script reads
  them with `GlueContext.extract_jdbc_conf` on Glue; here `awsglue` does not exist, so the same fields
  (`url`, `fullUrl`, `user`, `password`, `vendor`) are given to it as JSON in the environment variable
  `GLUE_LOCAL_JDBC_CONF`. Only MariaDB's JDBC driver is installed (Debian's `libmariadb-java`): a MySQL
  Connector/J class in `--jdbc_driver` is replaced by `org.mariadb.jdbc.Driver`, which accepts `jdbc:mysql:` URLs.
- *Glue-only services* (the Data Catalog update from inside the script, CloudWatch logs, bookmarks, metrics)
  are the script's business: without `awsglue` it skips them. A run's output is in files:
  `<work dir>/logs/<job name>/<run id>.log` (the script's stdout and stderr: its traceback) and `.err` (Spark's
  log).
- *State* is in memory, like moto's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from dataplatform import s3 as s3_ops

MARIADB_JDBC_JAR = "/usr/share/java/mariadb-java-client.jar"  # Debian's libmariadb-java
MARIADB_JDBC_DRIVER = "org.mariadb.jdbc.Driver"
MYSQL_JDBC_DRIVERS = frozenset({"com.mysql.cj.jdbc.Driver", "com.mysql.jdbc.Driver"})
JDBC_CONF_ENV = "GLUE_LOCAL_JDBC_CONF"
OUTPUT_ARGUMENT = "--output_path"
LAST_FILES = ("_manifest.json", "_SUCCESS")
"""Written after the data of a partition, in this order: the script's manifest, then the success marker."""
ERROR_TAIL_LINES = 25
MAX_ERROR_CHARS = 4000
RUNNING_STATES = frozenset({"STARTING", "RUNNING", "STOPPING"})
DEFAULT_TIMEOUT_MINUTES = 2880  # Glue's default job timeout
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/")

log = logging.getLogger("devstack.glue_local")


# --- Spark ---------------------------------------------------------------------------------------------------


def spark_submit_argv(script: Path, arguments: dict[str, str], jars: tuple[str, ...] = (MARIADB_JDBC_JAR,)
                      ) -> list[str]:
    """`spark-submit` of the venv's pyspark, local[2], the script and its `--name value` arguments."""
    argv = [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master", "local[2]",
        "--driver-memory", os.environ.get("LOCAL_SPARK_DRIVER_MEMORY", "2g"),
        "--jars", ",".join(jars),
        "--conf", "spark.sql.session.timeZone=UTC",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.shuffle.partitions=8",
        str(script),
    ]
    for name, value in arguments.items():
        argv += [name, value]
    return argv


def spark_env(env: dict[str, str]) -> dict[str, str]:
    import pyspark

    return {**os.environ, "SPARK_HOME": str(Path(pyspark.__file__).parent), "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable, **env}


def spark_submit(script: Path, arguments: dict[str, str], *, env: dict[str, str]) -> None:
    """Run a script to the end, its stdout printed; raise `RuntimeError` with the stderr tail on failure.
    (The benchmarks' entry point; the endpoint runs scripts as stoppable `SparkRun`s.)"""
    proc = subprocess.run(spark_submit_argv(script, arguments), env=spark_env(env), capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        print(line)
    if proc.returncode:
        tail = "\n".join(proc.stderr.splitlines()[-60:])
        raise RuntimeError(f"local Glue script {script.name} failed (exit {proc.returncode}):\n{tail}")


# --- what Glue gives a job run -------------------------------------------------------------------------------


def run_arguments(job: dict[str, Any], arguments: dict[str, str] | None, job_run_id: str) -> dict[str, str]:
    """The arguments a Glue job run's script gets: DefaultArguments, overridden by the run's Arguments,
    NonOverridableArguments last, and the job's name, id and run id."""
    return {
        **job.get("DefaultArguments", {}),
        **(arguments or {}),
        **job.get("NonOverridableArguments", {}),
        "--JOB_NAME": job["Name"],
        "--JOB_ID": f"j_{job['Name']}",
        "--JOB_RUN_ID": job_run_id,
    }


def jdbc_conf(connection: dict[str, Any]) -> dict[str, str]:
    """A Glue JDBC connection as `GlueContext.extract_jdbc_conf` returns it (url without the database)."""
    props = connection["ConnectionProperties"]
    full_url = props["JDBC_CONNECTION_URL"]
    vendor = full_url.removeprefix("jdbc:").split(":", 1)[0]
    base = full_url.rsplit("/", 1)[0] if full_url.count("/") > 2 else full_url
    return {"url": base, "fullUrl": full_url, "user": props.get("USERNAME", ""),
            "password": props.get("PASSWORD", ""), "vendor": vendor}


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


def publish_output(local_dir: Path, s3: Any, bucket: str, prefix: str) -> list[str]:
    """Copy what a script wrote under `local_dir` to `s3://bucket/prefix/`: each top-level folder replaces the
    objects under its prefix (the `LAST_FILES` deleted first and uploaded last), top-level files overwrite.
    Spark's `.crc` side files are skipped. Returns the keys written, in upload order."""
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    written: list[str] = []
    for entry in sorted(local_dir.iterdir()):
        if entry.is_dir():
            target = f"{prefix}{entry.name}/"
            existing = s3_ops.list_keys(s3, bucket, target)
            s3_ops.delete_keys(s3, bucket, [k for k in existing if k.rsplit("/", 1)[-1] in LAST_FILES])
            s3_ops.delete_keys(s3, bucket, [k for k in existing if k.rsplit("/", 1)[-1] not in LAST_FILES])
            files = sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.endswith(".crc"))
            ordered = [p for p in files if p.name not in LAST_FILES] + [
                entry / name for name in LAST_FILES if (entry / name).is_file()]
        elif not entry.name.endswith(".crc"):
            ordered = [entry]
        else:
            continue
        for path in ordered:
            key = prefix + path.relative_to(local_dir).as_posix()
            s3.upload_file(str(path), bucket, key)
            written.append(key)
    return written


# --- job runs ------------------------------------------------------------------------------------------------


class GlueApiError(Exception):
    """An error answered in Glue's JSON protocol (`__type` + message)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass
class LocalRun:
    job_name: str
    run_id: str
    timeout_minutes: int
    log_path: Path
    state: str = "STARTING"
    error_message: str | None = None
    started_on: float = field(default_factory=time.time)
    completed_on: float | None = None
    process: subprocess.Popen | None = None
    stop_requested: bool = False

    def finish(self, state: str, error: str | None = None) -> None:
        self.state, self.error_message, self.completed_on = state, error, time.time()

    def overlay(self, job_run: dict[str, Any]) -> dict[str, Any]:
        """moto's JobRun with this run's real state and times."""
        out = {k: v for k, v in job_run.items() if k not in ("CompletedOn", "ErrorMessage")}
        end = self.completed_on or time.time()
        out |= {"JobRunState": self.state, "StartedOn": self.started_on, "LastModifiedOn": end,
                "ExecutionTime": int(end - self.started_on), "Timeout": self.timeout_minutes,
                "LogGroupName": str(self.log_path.parent)}
        if self.completed_on is not None:
            out["CompletedOn"] = self.completed_on
        if self.error_message:
            out["ErrorMessage"] = self.error_message
        return out


class LocalGlue:
    """The runs this endpoint started, and the moto clients it reads jobs, connections and scripts with."""

    def __init__(self, moto_endpoint: str, work_dir: Path) -> None:
        self.moto_endpoint = moto_endpoint
        self.work_dir = work_dir
        self.runs: dict[str, LocalRun] = {}
        self.lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str) -> Any:
        import boto3

        with self.lock:
            if (service, region) not in self._clients:
                self._clients[service, region] = boto3.client(
                    service, endpoint_url=self.moto_endpoint, region_name=region,
                    aws_access_key_id="testing", aws_secret_access_key="testing")
            return self._clients[service, region]

    # StartJobRun ---------------------------------------------------------------------------------------------

    def start_job_run(self, region: str, request: dict[str, Any],
                      forward: Callable[[], tuple[int, dict[str, str], bytes]]) -> tuple[int, dict[str, str], bytes]:
        glue = self.client("glue", region)
        try:
            job = glue.get_job(JobName=request.get("JobName", ""))["Job"]
        except glue.exceptions.EntityNotFoundException:
            return forward()  # moto answers with Glue's own error
        with self.lock:  # the concurrency check and the registration are one step
            running = sum(1 for r in self.runs.values() if r.job_name == job["Name"] and r.state in RUNNING_STATES)
            limit = job.get("ExecutionProperty", {}).get("MaxConcurrentRuns", 1)
            if running >= limit:
                raise GlueApiError("ConcurrentRunsExceededException",
                                   f"Concurrent runs exceeded for {job['Name']}: {running} running, limit {limit}")
            status, headers, body = forward()
            if status != 200:
                return status, headers, body
            run_id = json.loads(body)["JobRunId"]
            run = LocalRun(job_name=job["Name"], run_id=run_id,
                           timeout_minutes=int(request.get("Timeout") or job.get("Timeout")
                                               or DEFAULT_TIMEOUT_MINUTES),
                           log_path=self.work_dir / "logs" / job["Name"] / f"{run_id}.log")
            self.runs[run_id] = run
        args = run_arguments(job, request.get("Arguments"), run_id)
        threading.Thread(target=self._execute, args=(run, job, args, region), name=run_id, daemon=True).start()
        log.info("StartJobRun %s %s: running locally, log %s", job["Name"], run_id, run.log_path)
        return status, headers, body

    def _execute(self, run: LocalRun, job: dict[str, Any], args: dict[str, str], region: str) -> None:
        try:
            self._run_script(run, job, args, region)
        except Exception as exc:  # any failure is the run's FAILED state, as on Glue
            log.exception("run %s failed", run.run_id)
            run.finish("FAILED", f"{type(exc).__name__}: {exc}")
        log.info("run %s %s", run.run_id, run.state)

    def _run_script(self, run: LocalRun, job: dict[str, Any], args: dict[str, str], region: str) -> None:
        s3, glue = self.client("s3", region), self.client("glue", region)
        run.log_path.parent.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "runs").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{run.run_id[:16]}-", dir=self.work_dir / "runs") as tmp:
            bucket, key = split_s3_uri(job["Command"]["ScriptLocation"])
            script = Path(tmp) / key.rsplit("/", 1)[-1]
            s3.download_file(bucket, key, str(script))
            env = {"AWS_ENDPOINT_URL": self.moto_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                   "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": region}
            connection = args.get("--connection_name") or next(iter(job.get("Connections", {}).get(
                "Connections", [])), None)
            if connection:
                conf = glue.get_connection(Name=connection, HidePassword=False)["Connection"]
                env[JDBC_CONF_ENV] = json.dumps(jdbc_conf(conf))
            if args.get("--jdbc_driver") in MYSQL_JDBC_DRIVERS:
                args["--jdbc_driver"] = MARIADB_JDBC_DRIVER
            output = None
            if OUTPUT_ARGUMENT in args:
                output = split_s3_uri(args[OUTPUT_ARGUMENT])
                (Path(tmp) / "output").mkdir()
                args[OUTPUT_ARGUMENT] = f"file://{tmp}/output"
            if not self._spark(run, script, args, env):
                return
            if output is not None:
                keys = publish_output(Path(tmp) / "output", s3, *output)
                log.info("run %s: %d objects to s3://%s/%s", run.run_id, len(keys), *output)
        run.finish("SUCCEEDED")

    def _spark(self, run: LocalRun, script: Path, args: dict[str, str], env: dict[str, str]) -> bool:
        """Run the script; True when it succeeded, else the run is finished (FAILED, STOPPED or TIMEOUT)."""
        with run.log_path.open("w") as out, run.log_path.with_suffix(".err").open("w") as err:
            with self.lock:
                if run.stop_requested:
                    run.finish("STOPPED")
                    return False
                run.process = subprocess.Popen(spark_submit_argv(script, args), env=spark_env(env), stdout=out,
                                               stderr=err, start_new_session=True)
                run.state = "RUNNING"
            try:
                code = run.process.wait(timeout=run.timeout_minutes * 60)
            except subprocess.TimeoutExpired:
                _kill_group(run.process)
                run.finish("TIMEOUT", f"Job run timed out after {run.timeout_minutes} minutes")
                return False
            if run.stop_requested:
                run.finish("STOPPED")
                return False
            if code:
                run.finish("FAILED", error_message(script.name, code, run.log_path, run.log_path.with_suffix(".err")))
                return False
        return True

    # UpdateJob, GetJobRun(s), BatchStopJobRun -------------------------------------------------------------------

    def update_job(self, region: str, request: dict[str, Any]) -> dict[str, Any]:
        glue = self.client("glue", region)
        name = request["JobName"]
        glue.get_job(JobName=name)  # EntityNotFoundException as on AWS
        glue.delete_job(JobName=name)
        glue.create_job(Name=name, **request["JobUpdate"])
        log.info("UpdateJob %s: recreated in moto with the new definition", name)
        return {"JobName": name}

    def overlay(self, job_run: dict[str, Any]) -> dict[str, Any]:
        run = self.runs.get(job_run.get("Id", ""))
        if run is None:
            return {**job_run, "JobRunState": "FAILED",
                    "ErrorMessage": "not started by this local Glue endpoint (restarted since, or the run was "
                                    "started on moto directly): nothing ran"}
        return run.overlay(job_run)

    def batch_stop(self, request: dict[str, Any]) -> dict[str, Any]:
        job_name = request.get("JobName", "")
        stopped, errors = [], []
        for run_id in request.get("JobRunIds", []):
            run = self.runs.get(run_id)
            if run is None or run.job_name != job_name:
                errors.append({"JobName": job_name, "JobRunId": run_id,
                               "ErrorDetail": {"ErrorCode": "EntityNotFoundException",
                                               "ErrorMessage": f"Job run {run_id} not found"}})
                continue
            with self.lock:
                if run.state in RUNNING_STATES:
                    run.stop_requested, run.state = True, "STOPPING"
                    if run.process is not None:
                        _kill_group(run.process)
            stopped.append({"JobName": job_name, "JobRunId": run_id})
        return {"SuccessfulSubmissions": stopped, "Errors": errors}


def error_message(script: str, code: int, stdout_log: Path, stderr_log: Path) -> str:
    """A failed run's ErrorMessage: the exception lines of the script's last Python traceback (PySpark's runner
    sends the script's stderr to stdout), else the tail of both logs; then where the full log is."""
    out = stdout_log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(out) if line.startswith("Traceback (most recent call last)")]
    if starts:
        lines = [ln for ln in out[starts[-1] + 1:] if ln.strip() and not ln[0].isspace()]
    else:
        lines = [ln for ln in out + stderr_log.read_text(errors="replace").splitlines() if ln.strip()]
        lines = lines[-ERROR_TAIL_LINES:]
    detail = "\n".join(lines)[-MAX_ERROR_CHARS:]
    return f"{detail}\n({script} exited with {code}; log: {stdout_log}, Spark's log: {stderr_log})"


def _kill_group(process: subprocess.Popen) -> None:
    """spark-submit starts a JVM which starts the Python driver: stop the whole process group."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


# --- HTTP ----------------------------------------------------------------------------------------------------


class GlueEndpoint(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], glue: LocalGlue) -> None:
        super().__init__(address, GlueRequestHandler)
        self.glue = glue


class GlueRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore and aiohttp expect
    server: GlueEndpoint
    _HOP_BY_HOP = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding"})

    def do_POST(self) -> None:  # http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        action = self.headers.get("X-Amz-Target", "").removeprefix("AWSGlue.")
        match = _CREDENTIAL_SCOPE.search(self.headers.get("Authorization", ""))
        region = match["region"] if match else "us-east-1"
        glue = self.server.glue
        try:
            if action == "StartJobRun":
                self._reply(*glue.start_job_run(region, json.loads(body or b"{}"), lambda: self._forward(body)))
            elif action == "GetJobRun":
                status, headers, raw = self._forward(body)
                if status == 200:
                    response = json.loads(raw)
                    response["JobRun"] = glue.overlay(response["JobRun"])
                    raw = json.dumps(response).encode()
                self._reply(status, headers, raw)
            elif action == "GetJobRuns":
                status, headers, raw = self._forward(body)
                if status == 200:
                    response = json.loads(raw)
                    response["JobRuns"] = [glue.overlay(r) for r in response.get("JobRuns", [])]
                    raw = json.dumps(response).encode()
                self._reply(status, headers, raw)
            elif action == "BatchStopJobRun":
                self._json(200, glue.batch_stop(json.loads(body or b"{}")))
            elif action == "UpdateJob":
                self._json(200, glue.update_job(region, json.loads(body or b"{}")))
            else:
                self._reply(*self._forward(body))
        except GlueApiError as exc:
            self._json(exc.status, {"__type": exc.code, "message": str(exc)})
        except ClientError as exc:  # moto's answer to a call made here: passed on as it came
            self._json(exc.response["ResponseMetadata"]["HTTPStatusCode"],
                       {"__type": exc.response["Error"]["Code"], "message": exc.response["Error"]["Message"]})
        except Exception as exc:  # a 500 in Glue's format, and the endpoint keeps serving
            log.exception("%s failed", action)
            self._json(500, {"__type": "InternalServiceException", "message": f"{type(exc).__name__}: {exc}"})

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        target = urlparse(self.server.glue.moto_endpoint)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in self._HOP_BY_HOP}
            conn.request("POST", self.path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, {k: v for k, v in response.getheaders()
                                     if k.lower() not in self._HOP_BY_HOP}, response.read()
        finally:
            conn.close()

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._reply(status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(payload).encode())

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        log.debug(format, *args)


def serve(host: str, port: int, moto_endpoint: str, work_dir: Path) -> None:
    shutil.rmtree(work_dir / "runs", ignore_errors=True)  # what runs of an earlier process left behind
    server = GlueEndpoint((host, port), LocalGlue(moto_endpoint, work_dir))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("local Glue endpoint on http://%s:%d, forwarding to %s, runs in %s", host, port, moto_endpoint,
             work_dir)
    server.serve_forever()
    for run in list(server.glue.runs.values()):
        if run.process is not None and run.process.poll() is None:
            _kill_group(run.process)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.glue_local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moto-endpoint", required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    serve(args.host, args.port, args.moto_endpoint, args.work_dir.resolve())


if __name__ == "__main__":
    main()
