"""The smoke test: the function's new `$LATEST` answers its file's sample event correctly, before any version is
published or any alias moves.

**On AWS**: the real `Invoke` of `$LATEST` (`LambdaHook.invoke_lambda`), a function error or a wrong answer fails.

**Emulated** (moto runs no code without Docker; its `Invoke` echoes the payload): the package is run here as
Lambda runs it: the staged zip (the same bytes the function was given: its sha256 is checked against the
function's `CodeSha256`; the staged object's bytes are checked against the package's when it is fetched) is
unpacked into a task root and its handler is imported and called in a clean interpreter (`python -I -S`: no
site-packages, no user site, no PYTHON* variables; only the standard library and the task root on `sys.path`, as
`/var/task` on the runtime), with the function's described environment (the one deployed, database secret ARN
included), the region, and the emulator's endpoint and credentials. A task root is fetched and unpacked once per
package content (`task_root`: keyed by the zip's sha256, the same key as the function's `CodeSha256`; never
written afterwards, as `/var/task` is read-only); the bytecode the interpreter compiles is kept beside it
(`-X pycache_prefix`), so testing the same package again costs the run, not the download, unpacking and compiling
of 100 MB. The task roots live in this machine's temporary directory: they are trusted as the unpacked bytes of
their sha256.

**Correct** means, for a `firehose_transformation`: one output per input `recordId`, in order, each result as
the file expects; every Ok record is base64 of one newline-terminated JSON recommendation record
(`serving.models.Recommendation`) carrying the partition keys the delivery stream's prefix uses; for a
`direct_invoke`: a valid recommendation record. A fallback answer passes only with a reason the file accepts
(`database_unavailable`, the function cannot reach its database, is never accepted by default).

Plain Python: no Airflow import.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from dataplatform.handoffs import Handoff
from dataplatform.serving.models import Recommendation
from dataplatform.streaming.packages import StagedPackage, extract, fetch
from dataplatform.streaming.specs import DirectSmokeTest, FirehoseSmokeTest, FunctionSpec, StreamingSpecs

SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
"""Where a fetched zip and the event are written: memory when the machine has it."""
TASK_ROOTS = Path(tempfile.gettempdir()) / "dataplatform-lambda-task-roots"
"""Unpacked packages by sha256 (`task_root`), on disk: a 100 MB tree each."""
KEEP_TASK_ROOTS = 4
"""Task roots kept beyond the last hour's: the most recently used."""
INIT_ALLOWANCE_SECONDS = 30
"""Beyond the function's timeout: its init (imports, warm-up) runs before the handler, as on Lambda."""

RUNNER = """
import importlib, json, sys, time
task_root, handler, event_path, out_path, name, memory, timeout, arn = sys.argv[1:]
sys.path.insert(0, task_root)
module_name, function_name = handler.rsplit(".", 1)
started = time.monotonic()
module = importlib.import_module(module_name)
init_seconds = time.monotonic() - started
deadline = time.monotonic() + float(timeout)

class Context:
    function_name = name
    function_version = "$LATEST"
    invoked_function_arn = arn
    memory_limit_in_mb = int(memory)
    aws_request_id = "smoke-test"
    log_group_name = "/aws/lambda/" + name
    log_stream_name = "smoke-test"

    def get_remaining_time_in_millis(self):
        return max(0, int((deadline - time.monotonic()) * 1000))

with open(event_path) as f:
    event = json.load(f)
result = getattr(module, function_name)(event, Context())
with open(out_path, "w") as f:
    json.dump({"result": result, "init_seconds": init_seconds}, f)
"""


class SmokeTestFailed(RuntimeError):
    """The new `$LATEST` did not answer its sample event correctly: nothing is published, no alias moves."""


class Invoker(Protocol):
    """What the real invoke needs (the provider's `LambdaHook` is one)."""

    def invoke_lambda(self, *, function_name: str, invocation_type: str | None = None, log_type: str | None = None,
                      client_context: str | None = None, payload: bytes | str | None = None,
                      qualifier: str | None = None) -> dict[str, Any]: ...


class SmokeResult(Handoff):
    function: str
    mode: str
    """`invoke` (AWS) or `local` (the package run here)."""
    answers: list[str]
    """One line per answer, for the log."""


def firehose_event(smoke: FirehoseSmokeTest, *, region: str, account_id: str, stream: str | None = None
                   ) -> dict[str, Any]:
    """The Kinesis-sourced Firehose event of the smoke test's records (objects sent as JSON, strings as they are)."""
    now = int(time.time() * 1000)
    records = []
    for i, record in enumerate(smoke.records):
        data = (json.dumps(record) if isinstance(record, dict) else record).encode()
        sequence = f"4964915862269374879037117467693746889277163099552690{i:04d}"
        records.append({
            "recordId": f"{sequence}000000", "approximateArrivalTimestamp": now,
            "data": base64.b64encode(data).decode(),
            "kinesisRecordMetadata": {"shardId": "shardId-000000000000", "partitionKey": f"smoke-{i}",
                                      "approximateArrivalTimestamp": now, "sequenceNumber": sequence,
                                      "subsequenceNumber": 0}})
    return {"invocationId": str(uuid.uuid4()), "region": region, "records": records,
            "deliveryStreamArn": f"arn:aws:firehose:{region}:{account_id}:deliverystream/{stream or 'smoke-test'}",
            "sourceKinesisStreamArn": f"arn:aws:kinesis:{region}:{account_id}:stream/smoke-test"}


def event_of(spec: FunctionSpec, *, region: str, account_id: str) -> dict[str, Any]:
    smoke = spec.smoke_test
    if isinstance(smoke, FirehoseSmokeTest):
        return firehose_event(smoke, region=region, account_id=account_id)
    return dict(smoke.event)


def _check_record(record: Any, accepted: list[str], where: str) -> tuple[list[str], str]:
    try:
        rec = Recommendation.model_validate(record)
    except ValidationError as exc:
        return [f"{where}: not a recommendation record: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}"], ""
    if rec.fallback and rec.fallback_reason not in accepted:
        return [f"{where}: answered from the fallback ({rec.fallback_reason}), not accepted "
                f"(accept_fallback: {accepted})"], ""
    line = (f"{where}: {len(rec.recommended_items)} recommended, model {rec.model_version}"
            + (f", fallback {rec.fallback_reason}" if rec.fallback else ""))
    return [], line


def check_answer(spec: FunctionSpec, event: Mapping[str, Any], response: Any, partition_keys: list[str]
                 ) -> tuple[list[str], list[str]]:
    """(problems, answer lines) of a response to the smoke event."""
    smoke = spec.smoke_test
    if isinstance(smoke, DirectSmokeTest):
        problems, line = _check_record(response, smoke.accept_fallback, "answer")
        return problems, [line] if line else []
    if not isinstance(response, dict) or not isinstance(response.get("records"), list):
        return [f"not a Firehose transformation response: {str(response)[:300]}"], []
    sent = [r["recordId"] for r in event["records"]]
    got = [r.get("recordId") for r in response["records"]]
    if got != sent:
        return [f"recordIds {got} do not answer {sent} (each once, in order)"], []
    problems, lines = [], []
    for i, (record, expected) in enumerate(zip(response["records"], smoke.expect, strict=True)):
        where = f"record {i}"
        if record.get("result") != expected:
            problems.append(f"{where}: {record.get('result')}, expected {expected}")
            continue
        if expected != "Ok":
            lines.append(f"{where}: {expected}")
            continue
        try:
            text = base64.b64decode(record["data"], validate=True).decode()
            assert text.endswith("\n") and text.count("\n") == 1, "not one newline-terminated line"
            body = json.loads(text)
        except (ValueError, KeyError, AssertionError) as exc:
            problems.append(f"{where}: data is not base64 of one JSON line: {exc}")
            continue
        more, line = _check_record(body, smoke.accept_fallback, where)
        keys = ((record.get("metadata") or {}).get("partitionKeys") or {})
        missing = [k for k in partition_keys if not keys.get(k)]
        if missing:
            more.append(f"{where}: partition keys {missing} missing (the delivery stream's prefix uses them)")
        problems += more
        lines += [line] if line else []
    return problems, lines


def partition_keys_for(specs: StreamingSpecs, function: str) -> list[str]:
    return sorted({k for stream in specs.delivery_streams.values() if stream.processor.function == function
                   for k in stream.partition_keys})


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def task_root(sha256: str, fetch_zip: Callable[[Path], Path]) -> Path:
    """The package whose zip has `sha256` unpacked as `/var/task`: `<TASK_ROOTS>/<sha256>/task`, made once per
    content from `fetch_zip(dest)` (which writes the zip to `dest`, its sha256 checked); the compiled bytecode goes
    to `<...>/<sha256>/pycache`. Kept: those used in the last hour (a smoke run takes at most its timeout +
    `INIT_ALLOWANCE_SECONDS`) and the `KEEP_TASK_ROOTS` most recently used."""
    TASK_ROOTS.mkdir(parents=True, exist_ok=True)
    entry = TASK_ROOTS / sha256
    with _locked(TASK_ROOTS / ".lock"):
        if not (entry / ".complete").is_file():
            tmp = TASK_ROOTS / f".{sha256}.{os.getpid()}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(entry, ignore_errors=True)
            with tempfile.TemporaryDirectory(prefix="lambda-package-", dir=SCRATCH) as scratch:
                extract(fetch_zip(Path(scratch) / "package.zip"), tmp / "task")
            (tmp / ".complete").write_text(sha256)
            tmp.rename(entry)
        os.utime(entry)
        used = sorted((p for p in TASK_ROOTS.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        for old in used[KEEP_TASK_ROOTS:]:
            if old != entry and time.time() - old.stat().st_mtime > 3600:
                shutil.rmtree(old, ignore_errors=True)
    return entry / "task"


def run_package(root: Path, spec: FunctionSpec, event: Mapping[str, Any], environment: Mapping[str, str], *,
                region: str, account_id: str, aws_environment: Mapping[str, str]) -> Any:
    """Run the handler of a package unpacked at `root` (`task_root`) in a clean interpreter; returns its response."""
    if f"python{sys.version_info.major}.{sys.version_info.minor}" != spec.runtime:
        raise SmokeTestFailed(f"{spec.name} runs on {spec.runtime}, this interpreter is "
                              f"{sys.version_info.major}.{sys.version_info.minor}: cannot run it here")
    with tempfile.TemporaryDirectory(prefix="lambda-smoke-", dir=SCRATCH) as tmp:
        event_path, out_path = Path(tmp) / "event.json", Path(tmp) / "response.json"
        event_path.write_text(json.dumps(event))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": "UTC",
               "LAMBDA_TASK_ROOT": str(root), "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
               "AWS_LAMBDA_FUNCTION_NAME": spec.name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
               "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb), "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
               **aws_environment, **environment}
        arn = f"arn:aws:lambda:{region}:{account_id}:function:{spec.name}"
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-S", "-X", f"pycache_prefix={root.parent / 'pycache'}", "-c", RUNNER,
                 str(root), spec.handler, str(event_path), str(out_path), spec.name, str(spec.memory_mb),
                 str(spec.timeout_seconds), arn],
                cwd=root, env=env, capture_output=True, text=True,
                timeout=spec.timeout_seconds + INIT_ALLOWANCE_SECONDS)
        except subprocess.TimeoutExpired as exc:
            raise SmokeTestFailed(f"{spec.name}: no answer within {spec.timeout_seconds} s") from exc
        if done.returncode or not out_path.exists():
            raise SmokeTestFailed(f"{spec.name}: the handler failed (exit {done.returncode}):\n"
                                  f"{(done.stderr or done.stdout)[-3000:]}")
        return json.loads(out_path.read_text())["result"]


def smoke_test_local(lam: Any, s3: Any, specs: StreamingSpecs, key: str, package: StagedPackage, *, region: str,
                     account_id: str, aws_environment: Mapping[str, str]) -> SmokeResult:
    spec = specs.functions[key]
    configuration = lam.get_function_configuration(FunctionName=spec.name)
    if configuration["CodeSha256"] != package.code_sha256:
        raise SmokeTestFailed(f"{spec.name}: $LATEST has code {configuration['CodeSha256']}, not the package "
                              f"{package.code_sha256} built by this run: apply_functions did not run or another "
                              "deploy changed it")
    event = event_of(spec, region=region, account_id=account_id)
    environment = (configuration.get("Environment") or {}).get("Variables") or {}
    root = task_root(package.sha256, lambda dest: fetch(s3, package, dest))
    response = run_package(root, spec, event, environment, region=region, account_id=account_id,
                           aws_environment=aws_environment)
    return _judged(specs, key, event, response, "local")


def smoke_test_invoke(invoker: Invoker, specs: StreamingSpecs, key: str, *, region: str, account_id: str
                      ) -> SmokeResult:
    spec = specs.functions[key]
    event = event_of(spec, region=region, account_id=account_id)
    response = invoker.invoke_lambda(function_name=spec.name, qualifier="$LATEST", invocation_type="RequestResponse",
                                     log_type="Tail", payload=json.dumps(event))
    body = response["Payload"].read()
    if response.get("FunctionError"):
        raise SmokeTestFailed(f"{spec.name}: {response['FunctionError']} error: {body[:2000]!r}")
    return _judged(specs, key, event, json.loads(body), "invoke")


def _judged(specs: StreamingSpecs, key: str, event: Mapping[str, Any], response: Any, mode: str) -> SmokeResult:
    spec = specs.functions[key]
    problems, lines = check_answer(spec, event, response, partition_keys_for(specs, key))
    if problems:
        raise SmokeTestFailed(f"{spec.name} answered its smoke event wrongly:\n  " + "\n  ".join(problems))
    return SmokeResult(function=spec.name, mode=mode, answers=lines)
