"""Apply a `Plan`, idempotently, on boto3 clients (the provider hooks' `.conn`): only what the plan lists changes.

The Amazon provider has `LambdaCreateFunctionOperator` (fails when the function exists) and nothing to update
code, publish versions or move aliases; so the sync is here, on `LambdaHook(...).conn` / `FirehoseHook(...).conn`.

Order (each a task of `streaming_deploy`): `apply_functions` (create / update `$LATEST` code, then configuration,
waiting between the two as Lambda requires; reserved concurrency) -> the waiters (`wait_for_updates`: State
Active and LastUpdateStatus Successful) -> the smoke test of `$LATEST` -> `publish_versions` (a new version
only where the plan needs one, else the matching version; the alias moves, recording where it pointed before
and the run that moved it) -> `sync_streams` (create, update the destination in place, or replace).

`rollback` points each alias back to the version it recorded as previous (the functions the newest deploy
moved, unless named); the delivery stream calls the alias, so it follows without an update.
`describe` returns what the account says now (configurations, versions, aliases, concurrency, streams): what the
idempotency tests compare.

Plain Python: no Airflow import.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from dataplatform.streaming.packages import PackageSet
from dataplatform.streaming.plan import (
    AliasNote,
    Plan,
    StreamPlan,
    alias_arn,
    desired_configuration,
    desired_destination,
    desired_source,
)
from dataplatform.streaming.specs import StreamingSpecs

WAITER = {"Delay": 2, "MaxAttempts": 150}


class StalePlanError(RuntimeError):
    """The account changed between the plan and the apply: plan again."""


class ReplacementRefusedError(RuntimeError):
    """The plan replaces a delivery stream and the run was not told to accept it."""


class RollbackError(RuntimeError):
    """An alias has no previous version to go back to."""


def check_plan(plan: Plan, fresh: Plan) -> None:
    """Apply only the plan that was shown: if the account changed since, stop."""
    if plan.steps() != fresh.steps():
        raise StalePlanError("the account changed since the plan was made; this run applies nothing. Plan now:\n"
                             + fresh.text())


def check_replacements(plan: Plan, accept_replacement: bool) -> None:
    if plan.replacements and not accept_replacement:
        raise ReplacementRefusedError(
            "the plan replaces a delivery stream, which the service cannot change in place: "
            + "; ".join(plan.replacements) + ". Events arriving while it is re-created are not delivered. Trigger "
            "again with accept_replacement=true to proceed (or change the file back).")


def apply_functions(lam: Any, specs: StreamingSpecs, plan: Plan, packages: PackageSet,
                    secrets: Mapping[str, str]) -> list[str]:
    """Create or update each function's `$LATEST` and concurrency as planned; returns the functions changed."""
    changed = []
    for fp in plan.functions:
        spec, package = specs.functions[fp.key], packages.packages[fp.key]
        configuration = desired_configuration(spec, secrets[spec.database_role])
        code = {"S3Bucket": package.bucket, "S3Key": package.key}
        if not fp.exists:
            created = {k: v for k, v in configuration.items() if k != "VpcConfig" or spec.vpc.subnets}
            lam.create_function(**created, Code=code, Architectures=[package.architecture], PackageType="Zip",
                                Publish=False)
            lam.get_waiter("function_active_v2").wait(FunctionName=spec.name, WaiterConfig=WAITER)
        else:
            if fp.update_code:
                lam.update_function_code(FunctionName=spec.name, **code, Architectures=[package.architecture],
                                         Publish=False)
                lam.get_waiter("function_updated_v2").wait(FunctionName=spec.name, WaiterConfig=WAITER)
            if fp.configuration_changes:
                lam.update_function_configuration(**configuration)
        if fp.concurrency is not None:
            if spec.reserved_concurrency is None:
                lam.delete_function_concurrency(FunctionName=spec.name)
            else:
                lam.put_function_concurrency(FunctionName=spec.name,
                                             ReservedConcurrentExecutions=spec.reserved_concurrency)
        if fp.changed:
            changed.append(spec.name)
    return changed


def wait_for_updates(lam: Any, names: Iterable[str]) -> None:
    """Block until each function is Active and its last update Successful (boto3's waiters; a Failed update
    raises with the reason)."""
    for name in names:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAITER)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAITER)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def publish_versions(lam: Any, specs: StreamingSpecs, plan: Plan, packages: PackageSet, run_id: str
                     ) -> dict[str, dict[str, str | None]]:
    """Publish where planned and move each alias; returns {function key: {"from": version, "to": version}}."""
    moved: dict[str, dict[str, str | None]] = {}
    for fp in plan.functions:
        if not fp.moves_alias:
            continue
        spec = specs.functions[fp.key]
        if fp.publish:
            version = lam.publish_version(FunctionName=spec.name,
                                          CodeSha256=packages.packages[fp.key].code_sha256)["Version"]
        else:
            version = str(fp.matching_version)
        note = AliasNote(previous=fp.live_version, run=run_id, at=_now()).text()
        if fp.live_version is None:
            lam.create_alias(FunctionName=spec.name, Name=spec.alias, FunctionVersion=version, Description=note)
        elif fp.live_version != version:
            lam.update_alias(FunctionName=spec.name, Name=spec.alias, FunctionVersion=version, Description=note)
        moved[fp.key] = {"from": fp.live_version, "to": version}
    return moved


def _wait_for_stream(firehose: Any, name: str, *, gone: bool = False, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
                "DeliveryStreamStatus"]
        except ClientError as error:
            if gone and error.response["Error"]["Code"] == "ResourceNotFoundException":
                return
            raise
        if not gone and status == "ACTIVE":
            return
        if status.endswith("FAILED"):
            raise RuntimeError(f"delivery stream {name} is {status}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"delivery stream {name} still {status} after {timeout:.0f}s")
        time.sleep(5)


def _create_stream(firehose: Any, specs: StreamingSpecs, sp: StreamPlan, processor_arn: str) -> None:
    stream = specs.delivery_streams[sp.key]
    firehose.create_delivery_stream(
        DeliveryStreamName=stream.name, DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration=desired_source(stream),
        ExtendedS3DestinationConfiguration=desired_destination(stream, processor_arn))
    _wait_for_stream(firehose, stream.name)


def sync_streams(firehose: Any, specs: StreamingSpecs, plan: Plan, *, region: str, account_id: str,
                 accept_replacement: bool) -> dict[str, str]:
    """Create, update or replace each delivery stream as planned; returns {stream name: action taken}."""
    check_replacements(plan, accept_replacement)
    done = {}
    for sp in plan.streams:
        stream = specs.delivery_streams[sp.key]
        processor_arn = alias_arn(region, account_id, specs.processor_of(sp.key))
        if sp.action == "create":
            _create_stream(firehose, specs, sp, processor_arn)
        elif sp.action == "replace":
            firehose.delete_delivery_stream(DeliveryStreamName=stream.name)
            _wait_for_stream(firehose, stream.name, gone=True)
            _create_stream(firehose, specs, sp, processor_arn)
        elif sp.action == "update":
            firehose.update_destination(
                DeliveryStreamName=stream.name, CurrentDeliveryStreamVersionId=sp.version_id,
                DestinationId=sp.destination_id,
                ExtendedS3DestinationUpdate=desired_destination(stream, processor_arn))
            _wait_for_stream(firehose, stream.name)
        done[stream.name] = sp.action
    return done


def rollback(lam: Any, specs: StreamingSpecs, run_id: str, functions: list[str] | None = None
             ) -> dict[str, dict[str, str]]:
    """Point aliases back to the version each recorded as previous: the named functions (keys), else those the
    newest deploy moved. Rolling back twice goes back and forth. Returns {key: {"from", "to"}}."""
    notes = {}
    for key, spec in specs.functions.items():
        try:
            alias = lam.get_alias(FunctionName=spec.name, Name=spec.alias)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                continue
            raise
        notes[key] = (alias["FunctionVersion"], AliasNote.parse(alias.get("Description")))
    if functions:
        unknown = [k for k in functions if k not in specs.functions]
        if unknown:
            raise RollbackError(f"unknown functions {unknown}: one of {', '.join(specs.functions)}")
        chosen = functions
    else:
        newest = max((n.at or "" for _, n in notes.values()), default="")
        newest_run = next((n.run for _, n in notes.values() if (n.at or "") == newest), None)
        chosen = [k for k, (_, n) in notes.items() if n.run == newest_run and n.previous]
    if not chosen:
        raise RollbackError("no alias records a previous version: nothing was deployed over an earlier version")
    rolled = {}
    for key in chosen:
        spec = specs.functions[key]
        if key not in notes or not notes[key][1].previous:
            raise RollbackError(f"{spec.name}: alias {spec.alias} records no previous version")
        current, note = notes[key]
        lam.update_alias(FunctionName=spec.name, Name=spec.alias, FunctionVersion=note.previous,
                         Description=AliasNote(previous=current, run=run_id, at=_now(), rollback=True).text())
        rolled[key] = {"from": current, "to": str(note.previous)}
    return rolled


def describe(lam: Any, firehose: Any, specs: StreamingSpecs) -> dict[str, Any]:
    """What the account says about every resource, without timestamps of reads: for comparing two states."""
    out: dict[str, Any] = {"functions": {}, "streams": {}}
    for key, spec in specs.functions.items():
        try:
            function = lam.get_function(FunctionName=spec.name)
        except ClientError:
            out["functions"][key] = None
            continue
        versions = [v for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=spec.name)
                    for v in page["Versions"]]
        try:
            alias = lam.get_alias(FunctionName=spec.name, Name=spec.alias)
            alias = {k: alias.get(k) for k in ("FunctionVersion", "Description")}
        except ClientError:
            alias = None
        out["functions"][key] = {
            "configuration": {k: v for k, v in function["Configuration"].items() if k != "ResponseMetadata"},
            "concurrency": (function.get("Concurrency") or {}).get("ReservedConcurrentExecutions"),
            "versions": [(v["Version"], v["CodeSha256"], v.get("LastModified")) for v in versions],
            "alias": alias,
        }
    for key, stream in specs.delivery_streams.items():
        try:
            out["streams"][key] = firehose.describe_delivery_stream(
                DeliveryStreamName=stream.name)["DeliveryStreamDescription"]
        except ClientError:
            out["streams"][key] = None
    return out

