"""Desired vs described: what a deploy would change, as data (`Plan`, an XCom hand-off) and as a readable diff.

For each function (`plan_function`), from `GetFunction`, `ListVersionsByFunction` and `GetAlias`:
- **create** when it does not exist;
- **code**: the package's sha256 against `$LATEST`'s `CodeSha256` (and the architecture): differs -> update;
- **configuration**: runtime, handler, role, memory, timeout, description and environment (the database
  secret's ARN included) against `$LATEST`: each differing field is listed and sent;
- **reserved concurrency** (a property of the function, not of a version): put or delete;
- **version and alias**: the published version that already has this code and configuration, if one does (no
  new version: a rerun, or a redeploy after a rollback, publishes nothing); else a new version is published
  after the smoke test. The alias moves to it when it points elsewhere.

For each delivery stream (`plan_stream`), from `DescribeDeliveryStream`: **create**; **update** the destination
in place (prefixes, buffering, compression, the processor and its buffering, the role); or **replace** when the
service cannot change a field in place (the Kinesis source or its role, the stream type, turning dynamic
partitioning on or off: it can only be set when a stream is created). A replacement deletes the stream, so the
events that arrive until the new one reads the source from its tip are not delivered: `Plan.replacements` lists
the reasons, and `streaming_deploy` refuses them without `accept_replacement`.

`Plan.text()` is the diff the DAG prints and returns for the UI. Plain Python: no Airflow import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from botocore.exceptions import ClientError

from dataplatform.handoffs import Handoff
from dataplatform.streaming.packages import PackageSet, StagedPackage, Target
from dataplatform.streaming.specs import SECRET_ARN_VARIABLE, DeliveryStreamSpec, FunctionSpec, StreamingSpecs

COMPARED_CONFIGURATION = ("Runtime", "Handler", "Role", "MemorySize", "Timeout", "Description", "Environment",
                          "VpcConfig")


def _missing(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in {"ResourceNotFoundException", "404"}


# --- functions ------------------------------------------------------------------------------------------------


def desired_configuration(spec: FunctionSpec, secret_arn: str) -> dict[str, Any]:
    """The `UpdateFunctionConfiguration` request for the function's file (the fields `COMPARED_CONFIGURATION`)."""
    return {
        "FunctionName": spec.name, "Runtime": spec.runtime, "Handler": spec.handler, "Role": spec.role_arn,
        "MemorySize": spec.memory_mb, "Timeout": spec.timeout_seconds, "Description": spec.description,
        "Environment": {"Variables": {**spec.environment, SECRET_ARN_VARIABLE: secret_arn}},
        "VpcConfig": {"SubnetIds": list(spec.vpc.subnets), "SecurityGroupIds": list(spec.vpc.security_groups)},
    }


def _compared(configuration: Mapping[str, Any], field: str) -> Any:
    """A field as compared: the environment's variables; the VPC's sorted subnets and security groups (the service
    adds `VpcId` and answers no VPC as absent or as empty lists)."""
    if field == "Environment":
        return _environment(configuration)
    if field == "VpcConfig":
        vpc = configuration.get("VpcConfig") or {}
        return {"SubnetIds": sorted(vpc.get("SubnetIds") or []),
                "SecurityGroupIds": sorted(vpc.get("SecurityGroupIds") or [])}
    return configuration.get(field)


def _environment(configuration: Mapping[str, Any]) -> dict[str, str]:
    return dict((configuration.get("Environment") or {}).get("Variables") or {})


def configuration_diff(desired: Mapping[str, Any], described: Mapping[str, Any]) -> list[str]:
    """One line per differing field (and per environment variable); empty when they match."""
    lines = []
    for field in COMPARED_CONFIGURATION:
        if field == "Environment":
            want, have = _environment(desired), _environment(described)
            for name in sorted(want.keys() | have.keys()):
                if name not in have:
                    lines.append(f"+ Environment.{name} = {want[name]!r}")
                elif name not in want:
                    lines.append(f"- Environment.{name} (was {have[name]!r})")
                elif want[name] != have[name]:
                    lines.append(f"~ Environment.{name}: {have[name]!r} -> {want[name]!r}")
        elif _compared(desired, field) != _compared(described, field):
            lines.append(f"~ {field}: {_compared(described, field)!r} -> {_compared(desired, field)!r}")
    return lines


def configuration_hash(configuration: Mapping[str, Any]) -> str:
    """A short digest of the compared configuration: what a published version's description records."""
    compared = {f: _compared(configuration, f) for f in COMPARED_CONFIGURATION}
    return hashlib.sha256(json.dumps(compared, sort_keys=True).encode()).hexdigest()[:12]


class AliasNote(Handoff):
    """What the deploy records in the alias's description: where it pointed before, and which run moved it."""

    previous: str | None = None
    run: str | None = None
    at: str | None = None
    rollback: bool = False

    @classmethod
    def parse(cls, description: str | None) -> AliasNote:
        try:
            return cls.from_payload(description or "{}")
        except ValueError:
            return cls()

    def text(self) -> str:
        return json.dumps(self.payload(), separators=(",", ":"))


class FunctionPlan(Handoff):
    key: str
    name: str
    alias: str
    exists: bool
    update_code: bool = False
    configuration_changes: list[str] = []
    concurrency: tuple[int | None, int | None] | None = None
    """(described, desired) when it changes."""
    live_version: str | None = None
    """Where the alias points now (None: no alias yet)."""
    matching_version: str | None = None
    """A published version with the desired code and configuration already, if any."""
    publish: bool = False
    """A new version is needed (after the smoke test)."""
    code_sha256: str = ""
    architecture: str = ""

    @property
    def moves_alias(self) -> bool:
        return self.publish or self.matching_version != self.live_version

    @property
    def changes_latest(self) -> bool:
        return not self.exists or self.update_code or bool(self.configuration_changes)

    @property
    def changed(self) -> bool:
        return self.changes_latest or self.concurrency is not None or self.moves_alias

    def lines(self) -> list[str]:
        head = f"lambda {self.name} ({self.key})"
        if not self.changed:
            return [f"{head}: unchanged (alias {self.alias} -> version {self.live_version})"]
        out = [head + ":"]
        if not self.exists:
            out.append(f"  + create function ({self.architecture}, package {self.code_sha256[:12]}...)")
        if self.update_code:
            out.append(f"  ~ code -> package {self.code_sha256[:12]}... ({self.architecture})")
        out += [f"  {line}" for line in self.configuration_changes]
        if self.concurrency is not None:
            out.append(f"  ~ ReservedConcurrentExecutions: {self.concurrency[0]} -> {self.concurrency[1]}")
        target = "a new version (after the smoke test)" if self.publish else f"version {self.matching_version}"
        if self.moves_alias:
            out.append(f"  ~ alias {self.alias}: {self.live_version or '(none)'} -> {target}")
        return out


def _versions(lam: Any, name: str) -> list[dict[str, Any]]:
    out = []
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        out += [v for v in page["Versions"] if v["Version"] != "$LATEST"]
    return sorted(out, key=lambda v: int(v["Version"]))


def plan_function(lam: Any, key: str, spec: FunctionSpec, package: StagedPackage, secret_arn: str) -> FunctionPlan:
    desired = desired_configuration(spec, secret_arn)
    common = {"key": key, "name": spec.name, "alias": spec.alias, "code_sha256": package.sha256,
              "architecture": package.architecture}
    try:
        described = lam.get_function(FunctionName=spec.name)
    except ClientError as error:
        if not _missing(error):
            raise
        return FunctionPlan(**common, exists=False, publish=True,
                            concurrency=(None, spec.reserved_concurrency) if spec.reserved_concurrency is not None
                            else None)
    latest = described["Configuration"]
    concurrency = (described.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
    concurrency = int(concurrency) if concurrency is not None else None
    update_code = latest.get("CodeSha256") != package.code_sha256 or latest.get("Architectures") != [
        package.architecture]
    matching = next((v["Version"] for v in reversed(_versions(lam, spec.name))
                     if v.get("CodeSha256") == package.code_sha256 and v.get("Architectures") == [package.architecture]
                     and not configuration_diff(desired, v)), None)
    try:
        live = lam.get_alias(FunctionName=spec.name, Name=spec.alias)["FunctionVersion"]
    except ClientError as error:
        if not _missing(error):
            raise
        live = None
    return FunctionPlan(**common, exists=True, update_code=update_code,
                        configuration_changes=configuration_diff(desired, latest),
                        concurrency=(concurrency, spec.reserved_concurrency)
                        if concurrency != spec.reserved_concurrency else None,
                        live_version=live, matching_version=matching, publish=matching is None)


# --- delivery streams ---------------------------------------------------------------------------------------------


def alias_arn(s_region: str, account_id: str, spec: FunctionSpec) -> str:
    return f"arn:aws:lambda:{s_region}:{account_id}:function:{spec.name}:{spec.alias}"


def processor_parameters(stream: DeliveryStreamSpec, processor_arn: str) -> dict[str, str]:
    p = stream.processor
    return {"LambdaArn": processor_arn, "BufferSizeInMBs": f"{p.buffer_size_mb:g}",
            "BufferIntervalInSeconds": str(p.buffer_interval_seconds), "NumberOfRetries": str(p.retries)}


def desired_destination(stream: DeliveryStreamSpec, processor_arn: str) -> dict[str, Any]:
    """The `ExtendedS3DestinationConfiguration` (and, the same, `ExtendedS3DestinationUpdate`) of the file."""
    return {
        "RoleARN": stream.role_arn,
        "BucketARN": f"arn:aws:s3:::{stream.bucket}",
        "Prefix": stream.prefix,
        "ErrorOutputPrefix": stream.error_output_prefix,
        "BufferingHints": {"SizeInMBs": stream.buffering.size_mb,
                           "IntervalInSeconds": stream.buffering.interval_seconds},
        "CompressionFormat": stream.compression,
        "ProcessingConfiguration": {"Enabled": True, "Processors": [{
            "Type": "Lambda",
            "Parameters": [{"ParameterName": k, "ParameterValue": v}
                           for k, v in processor_parameters(stream, processor_arn).items()],
        }]},
        "DynamicPartitioningConfiguration": {
            "Enabled": stream.dynamic_partitioning,
            **({"RetryOptions": {"DurationInSeconds": stream.dynamic_partitioning_retry_seconds}}
               if stream.dynamic_partitioning else {}),
        },
    }


def desired_source(stream: DeliveryStreamSpec) -> dict[str, str]:
    return {"KinesisStreamARN": stream.source_stream_arn, "RoleARN": stream.role_arn}


def _processors(destination: Mapping[str, Any]) -> dict[str, Any]:
    processing = destination.get("ProcessingConfiguration") or {}
    lambdas = [p for p in processing.get("Processors") or [] if p.get("Type") == "Lambda"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in (lambdas[0].get("Parameters") or [])} if lambdas else {}
    return {"Enabled": bool(processing.get("Enabled")), "Lambda processors": len(lambdas), **params}


def stream_diff(desired: Mapping[str, Any], described: Mapping[str, Any], processor_arn: str
                ) -> tuple[list[str], list[str]]:
    """(in-place changes, replacement reasons) of a destination, as lines."""
    lines = []
    for field in ("RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints", "CompressionFormat"):
        if desired.get(field) != described.get(field):
            lines.append(f"~ {field}: {described.get(field)!r} -> {desired[field]!r}")
    want, have = _processors(desired), _processors(described)
    for name in want:
        if want[name] != have.get(name):
            lines.append(f"~ processor {name}: {have.get(name)!r} -> {want[name]!r}")
    dp_want = desired["DynamicPartitioningConfiguration"]
    dp_have = described.get("DynamicPartitioningConfiguration") or {"Enabled": False}
    reasons = []
    if bool(dp_want.get("Enabled")) != bool(dp_have.get("Enabled")):
        reasons.append(f"dynamic partitioning {bool(dp_have.get('Enabled'))} -> {bool(dp_want.get('Enabled'))} "
                       "(only set when a stream is created)")
    elif dp_want.get("RetryOptions") != dp_have.get("RetryOptions") and dp_want.get("Enabled"):
        lines.append(f"~ DynamicPartitioning RetryOptions: {dp_have.get('RetryOptions')!r} -> "
                     f"{dp_want.get('RetryOptions')!r}")
    return lines, reasons


class StreamPlan(Handoff):
    key: str
    name: str
    action: Literal["create", "update", "replace", "none"]
    changes: list[str] = []
    replacement_reasons: list[str] = []
    version_id: str | None = None
    destination_id: str | None = None

    def lines(self) -> list[str]:
        head = f"firehose {self.name} ({self.key})"
        if self.action == "none":
            return [f"{head}: unchanged (version {self.version_id})"]
        if self.action == "create":
            return [f"{head}:", "  + create delivery stream"]
        out = [f"{head}:"] + [f"  {line}" for line in self.changes]
        if self.action == "replace":
            out.append("  ! REPLACEMENT (delete and re-create; events arriving meanwhile are not delivered): "
                       + "; ".join(self.replacement_reasons))
        return out


def plan_stream(firehose: Any, key: str, stream: DeliveryStreamSpec, processor_arn: str) -> StreamPlan:
    try:
        description = firehose.describe_delivery_stream(DeliveryStreamName=stream.name)["DeliveryStreamDescription"]
    except ClientError as error:
        if not _missing(error):
            raise
        return StreamPlan(key=key, name=stream.name, action="create")
    reasons = []
    if description.get("DeliveryStreamType") != "KinesisStreamAsSource":
        reasons.append(f"type {description.get('DeliveryStreamType')} -> KinesisStreamAsSource")
    source = (description.get("Source") or {}).get("KinesisStreamSourceDescription") or {}
    for field, value in desired_source(stream).items():
        if source.get(field) != value:
            reasons.append(f"source {field} {source.get(field)!r} -> {value!r}")
    destinations = description.get("Destinations") or [{}]
    described = destinations[0].get("ExtendedS3DestinationDescription")
    if described is None:
        reasons.append("destination is not Extended S3")
        described = {}
    changes, more = stream_diff(desired_destination(stream, processor_arn), described, processor_arn)
    reasons += more
    action = "replace" if reasons else "update" if changes else "none"
    return StreamPlan(key=key, name=stream.name, action=action, changes=changes, replacement_reasons=reasons,
                      version_id=description.get("VersionId"), destination_id=destinations[0].get("DestinationId"))


# --- the whole plan -----------------------------------------------------------------------------------------------


class Plan(Handoff):
    target: str
    functions: list[FunctionPlan]
    streams: list[StreamPlan]
    grants: list[str] = []
    """Database grant changes the deploy makes (`vectordb.roles.GrantChanges.lines`)."""

    @property
    def changed(self) -> bool:
        return any(f.changed for f in self.functions) or any(s.action != "none" for s in self.streams) or bool(
            self.grants)

    @property
    def replacements(self) -> list[str]:
        return [f"{s.name}: {r}" for s in self.streams if s.action == "replace" for r in s.replacement_reasons]

    def function(self, key: str) -> FunctionPlan:
        return next(f for f in self.functions if f.key == key)

    def text(self) -> str:
        lines = [f"target: {self.target}"]
        for item in (*self.functions, *self.streams):
            lines += item.lines()
        if self.grants:
            lines += ["database grants:"] + [f"  {g}" for g in self.grants]
        lines.append("plan: " + ("changes above" if self.changed else "nothing to change"))
        return "\n".join(lines)

    def steps(self) -> dict[str, Any]:
        """What apply would do, without descriptions (for comparing a plan with a fresh one)."""
        payload = self.payload()
        for s in payload["streams"]:
            s.pop("version_id", None)
        return payload


def secret_arns(secretsmanager: Any, specs: StreamingSpecs) -> dict[str, str]:
    """database_role key -> its secret's full ARN (the functions' environment names the ARN, never the value)."""
    out = {}
    for key, role in specs.database_roles.items():
        try:
            out[key] = secretsmanager.describe_secret(SecretId=role.secret_name)["ARN"]
        except ClientError as error:
            if _missing(error):
                raise LookupError(f"Secrets Manager has no secret {role.secret_name} ({key}): the infrastructure "
                                  "creates it (locally: devstack.lambda_resources)") from error
            raise
    return out


def make_plan(specs: StreamingSpecs, packages: PackageSet, target: Target, *, lam: Any, firehose: Any,
              secretsmanager: Any, region: str, account_id: str, grants: list[str] | None = None) -> Plan:
    secrets = secret_arns(secretsmanager, specs)
    functions = [plan_function(lam, key, spec, packages.packages[key], secrets[spec.database_role])
                 for key, spec in specs.functions.items()]
    streams = [plan_stream(firehose, key, stream, alias_arn(region, account_id, specs.processor_of(key)))
               for key, stream in specs.delivery_streams.items()]
    return Plan(target=target.describe(specs), functions=functions, streams=streams, grants=grants or [])
