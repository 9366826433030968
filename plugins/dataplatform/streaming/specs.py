"""The streaming resources as configuration: one YAML file a resource in `include/streaming/`, validated by a
pydantic model before anything is called.

- `lambda_function` (`FunctionSpec`): runtime, architecture, memory, timeout, reserved concurrency, execution
  role, environment, the database role whose secret it reads, the alias readers call, the smoke test;
- `delivery_stream` (`DeliveryStreamSpec`): Kinesis source, the Lambda processor (a function's alias) and its
  buffering, the S3 destination (prefix from the Lambda's partition keys, error prefix, compression, buffering,
  dynamic partitioning);
- `database_role` (`DatabaseRoleSpec`): the read-only database role the functions connect as, and the Secrets
  Manager secret holding its credentials.

A file's stem is the resource's key (`stream_transformation.yaml` -> `stream_transformation`); a function's key
is also its folder under `lambdas/`. Files refer to each other by key (`processor.function`, `database_role`).

**Values from the settings.** `${name}` in any string is replaced by that attribute of `config.Settings`
(`${prefix}`, `${account_id}`, `${region}`, `${recommendations_bucket}`, `${stream_transformation_function}`...),
so names and ARNs follow the environment's prefix and nothing environment-specific is written in the files.
Firehose's own expressions (`!{partitionKeyFromLambda:year}`) are left alone. Roles are infrastructure: the
files name them by the prefix convention (`arn:aws:iam::${account_id}:role/${prefix}-...`); secrets are named,
never given: the deploy resolves the secret's ARN and puts only the ARN in the function's environment.

**Validation.** `load()` reads every file, renders it and validates it; any problem raises `SpecError` naming the
file and the field (`include/streaming/model_inference.yaml: memory_mb: Input should be greater than or equal to
128`), with every problem of every file in one message, before any AWS call.

Plain Python (pydantic, PyYAML): no Airflow import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dataplatform.config import Settings
from dataplatform.paths import include_dir

FUNCTION_NAME = r"[A-Za-z0-9_-]{1,64}"
ROLE_ARN = r"arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}"
KINESIS_STREAM_ARN = r"arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[A-Za-z0-9_.-]{1,128}"
BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
SECRET_NAME = r"[A-Za-z0-9/_+=.@-]{1,512}"
PG_IDENTIFIER = r"[a-z_][a-z0-9_]{0,62}"
ENV_NAME = r"[A-Za-z][A-Za-z0-9_]{0,127}"
PARTITION_KEY = re.compile(r"!\{partitionKeyFromLambda:([A-Za-z0-9_]+)\}")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_ARN_VARIABLE = "DATAPLATFORM_VECTOR_SECRET_ARN"
"""Where a function finds its database secret (`serving.recommender.Recommender.from_env`): set by the deploy."""
FORBIDDEN_VARIABLES = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|_DSN$|^DATABASE_URL$", re.I)
"""An environment variable with one of these in its name would carry a credential: the files never give one."""


class SpecError(ValueError):
    """A configuration file is invalid; the message names the file and the field."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FallbackReason = Literal["no_live_model", "no_user_vector", "database_unavailable"]


class _SmokeTest(_Spec):
    accept_fallback: list[FallbackReason] = Field(
        default=["no_live_model", "no_user_vector"],
        description="fallback reasons a correct answer may carry (a fresh environment has no live model yet; a "
                    "model without a user-feature model has no vector for an unknown customer); "
                    "`database_unavailable` means the function cannot reach its database and is not accepted "
                    "unless listed")


class FirehoseSmokeTest(_SmokeTest):
    """A Firehose transformation answers a batch built from `records` (objects are sent as JSON, strings as they
    are) with one result per record, in order, as `expect` says, and Ok records carry the partition keys the
    delivery stream's prefix uses."""

    kind: Literal["firehose_transformation"]
    records: Annotated[list[dict[str, Any] | str], Field(min_length=1, max_length=50)]
    expect: list[Literal["Ok", "ProcessingFailed"]]

    @model_validator(mode="after")
    def _one_result_per_record(self) -> FirehoseSmokeTest:
        if len(self.expect) != len(self.records):
            raise ValueError(f"expect has {len(self.expect)} results for {len(self.records)} records")
        return self


class DirectSmokeTest(_SmokeTest):
    """A direct invoke with `event` answers with a valid recommendation record."""

    kind: Literal["direct_invoke"]
    event: dict[str, Any]


SmokeTest = Annotated[FirehoseSmokeTest | DirectSmokeTest, Field(discriminator="kind")]


def _ids(value: str, pattern: str, what: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    bad = [i for i in ids if not re.fullmatch(pattern, i)]
    if bad:
        raise ValueError(f"{', '.join(map(repr, bad))}: not {what} ids (e.g. {pattern.split('-')[0]}-0a1b2c3d)")
    return ids


class VpcSpec(_Spec):
    """The subnets and security groups a function runs in (to reach an RDS database in a VPC; the role then needs
    `AWSLambdaVPCAccessExecutionRole`), as comma-separated ids; both empty: no VPC (the local stack)."""

    subnet_ids: str = ""
    security_group_ids: str = ""

    @model_validator(mode="after")
    def _both_or_neither(self) -> VpcSpec:
        if bool(self.subnets) != bool(self.security_groups):
            raise ValueError("give both subnet_ids and security_group_ids (settings lambda_subnet_ids and "
                             "lambda_security_group_ids), or neither for no VPC")
        return self

    @property
    def subnets(self) -> tuple[str, ...]:
        return _ids(self.subnet_ids, r"subnet-[0-9a-f]{8,17}", "subnet")

    @property
    def security_groups(self) -> tuple[str, ...]:
        return _ids(self.security_group_ids, r"sg-[0-9a-f]{8,17}", "security group")


class FunctionSpec(_Spec):
    kind: Literal["lambda_function"]
    name: Annotated[str, Field(pattern=f"^{FUNCTION_NAME}$")]
    description: Annotated[str, Field(max_length=256)] = ""
    handler: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*\.[A-Za-z_][A-Za-z0-9_]*$")] = "handler.handler"
    runtime: Literal["python3.12"]
    architecture: Literal["arm64", "x86_64"]
    memory_mb: Annotated[int, Field(ge=128, le=10240)]
    timeout_seconds: Annotated[int, Field(ge=1, le=900)]
    reserved_concurrency: Annotated[int, Field(ge=0, le=1000)] | None = None
    role_arn: Annotated[str, Field(pattern=f"^{ROLE_ARN}$")]
    database_role: Annotated[str, Field(min_length=1, description="key of a database_role file")]
    environment: dict[Annotated[str, Field(pattern=f"^{ENV_NAME}$")], Annotated[str, Field(max_length=2048)]] = {}
    alias: Annotated[str, Field(pattern=r"^[A-Za-z_-][A-Za-z0-9_-]{0,127}$")] = "live"
    """An alias name (not all digits: that would be a version)."""
    code_bucket: Annotated[str, Field(pattern=f"^{BUCKET}$")]
    code_prefix: Annotated[str, Field(pattern=r"^([A-Za-z0-9_.-]+/)*$")] = "lambda-packages/"
    vpc: VpcSpec = VpcSpec()
    smoke_test: SmokeTest

    @field_validator("environment")
    @classmethod
    def _no_credentials(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if name.startswith("AWS_") or name.startswith("_"):
                raise ValueError(f"{name}: reserved by the Lambda runtime")
            if name == SECRET_ARN_VARIABLE:
                raise ValueError(f"{name}: set by the deploy from database_role (the secret's ARN, never a value)")
            if FORBIDDEN_VARIABLES.search(name):
                raise ValueError(f"{name}: a credential does not go in a function's environment; name a "
                                 "database_role (its Secrets Manager secret) instead")
        return env


class LambdaProcessor(_Spec):
    function: Annotated[str, Field(min_length=1, description="key of a lambda_function file")]
    buffer_size_mb: Annotated[float, Field(ge=0.2, le=3)]
    """Firehose's Lambda processor buffer: 0.2 to 3 MB (a recommendation record is 5-10x its event, and a response
    over 6 MB fails the whole batch: lambdas/README.md)."""
    buffer_interval_seconds: Annotated[int, Field(ge=60, le=900)]
    retries: Annotated[int, Field(ge=0, le=300)] = 3


class S3Buffering(_Spec):
    size_mb: Annotated[int, Field(ge=1, le=128)]
    interval_seconds: Annotated[int, Field(ge=0, le=900)]


class DeliveryStreamSpec(_Spec):
    kind: Literal["delivery_stream"]
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    source_stream_arn: Annotated[str, Field(pattern=f"^{KINESIS_STREAM_ARN}$")]
    role_arn: Annotated[str, Field(pattern=f"^{ROLE_ARN}$", description="read the stream, invoke the processor, "
                                                                         "write the bucket")]
    processor: LambdaProcessor
    bucket: Annotated[str, Field(pattern=f"^{BUCKET}$")]
    prefix: Annotated[str, Field(min_length=1, max_length=1024)]
    error_output_prefix: Annotated[str, Field(min_length=1, max_length=1024)]
    compression: Literal["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"]
    buffering: S3Buffering
    dynamic_partitioning: bool
    dynamic_partitioning_retry_seconds: Annotated[int, Field(ge=0, le=7200)] = 300

    @model_validator(mode="after")
    def _partitioning(self) -> DeliveryStreamSpec:
        keys = self.partition_keys
        if keys and not self.dynamic_partitioning:
            raise ValueError("prefix uses partitionKeyFromLambda: dynamic_partitioning must be true")
        if self.dynamic_partitioning and not keys:
            raise ValueError("dynamic_partitioning needs a prefix with !{partitionKeyFromLambda:...} keys")
        if self.dynamic_partitioning and self.buffering.size_mb < 64:
            raise ValueError(f"buffering.size_mb {self.buffering.size_mb}: dynamic partitioning needs at least 64")
        if "!{" in self.prefix and "!{firehose:error-output-type}" not in self.error_output_prefix:
            raise ValueError("error_output_prefix must contain !{firehose:error-output-type} when prefix has "
                             "expressions")
        return self

    @property
    def partition_keys(self) -> list[str]:
        """The keys the processor must return in `metadata.partitionKeys` (year, month, day, hour)."""
        return PARTITION_KEY.findall(self.prefix)


class DatabaseRoleSpec(_Spec):
    kind: Literal["database_role"]
    role: Annotated[str, Field(pattern=f"^{PG_IDENTIFIER}$")]
    schema_name: Annotated[str, Field(alias="schema", pattern=f"^{PG_IDENTIFIER}$")]
    secret_name: Annotated[str, Field(pattern=f"^{SECRET_NAME}$")]
    connection_limit: Annotated[int, Field(ge=1, le=10_000)]


_MODELS: dict[str, type[_Spec]] = {"lambda_function": FunctionSpec, "delivery_stream": DeliveryStreamSpec,
                                   "database_role": DatabaseRoleSpec}


@dataclass(frozen=True)
class StreamingSpecs:
    """Every resource, by key (file stem)."""

    functions: Mapping[str, FunctionSpec]
    delivery_streams: Mapping[str, DeliveryStreamSpec]
    database_roles: Mapping[str, DatabaseRoleSpec]
    directory: Path

    def database_role_of(self, function: str) -> DatabaseRoleSpec:
        return self.database_roles[self.functions[function].database_role]

    def processor_of(self, stream: str) -> FunctionSpec:
        return self.functions[self.delivery_streams[stream].processor.function]


def default_directory() -> Path:
    return include_dir() / "streaming"


def _settings_values(s: Settings) -> dict[str, str]:
    names = {f.name for f in fields(Settings)} | {n for n, v in vars(Settings).items() if isinstance(v, property)}
    values = {}
    for name in sorted(names):
        value = getattr(s, name)
        if isinstance(value, str | int):
            values[name] = str(value)
    return values


def _render(value: Any, values: Mapping[str, str], where: tuple[str | int, ...], problems: list[str]) -> Any:
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                problems.append(f"{_path(where)}: unknown setting ${{{name}}} (known: {', '.join(sorted(values))})")
                return match.group(0)
            return values[name]

        return PLACEHOLDER.sub(replace, value)
    if isinstance(value, dict):
        return {k: _render(v, values, (*where, str(k)), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, values, (*where, i), problems) for i, v in enumerate(value)]
    return value


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(file)"


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(include_dir().parent))
    except ValueError:
        return str(path)


def parse(path: Path, s: Settings) -> _Spec:
    """One file, rendered against the settings and validated; `SpecError` names the file and each field."""
    name = _display(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{name}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{name}: expected a mapping with a `kind`, got {type(raw).__name__}")
    kind = raw.get("kind")
    if kind not in _MODELS:
        raise SpecError(f"{name}: kind: expected one of {', '.join(_MODELS)}, got {kind!r}")
    problems: list[str] = []
    rendered = _render(raw, _settings_values(s), (), problems)
    if problems:
        raise SpecError(f"{name}: " + f"\n{name}: ".join(problems))
    try:
        return _MODELS[kind].model_validate(rendered)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            got = f" (got {error['input']!r})" if error["type"] not in {"missing", "extra_forbidden"} and not \
                isinstance(error["input"], dict | list) else ""
            lines.append(f"{name}: {_path(error['loc'])}: {error['msg']}{got}")
        raise SpecError("\n".join(lines)) from exc


def load(s: Settings, directory: Path | None = None) -> StreamingSpecs:
    """Every `*.yaml` of `directory` (default `include/streaming/`), validated, references checked."""
    directory = directory or default_directory()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise SpecError(f"{_display(directory)}: no *.yaml resource files")
    by_kind: dict[str, dict[str, Any]] = {kind: {} for kind in _MODELS}
    problems: list[str] = []
    for path in files:
        try:
            spec = parse(path, s)
        except SpecError as exc:
            problems.append(str(exc))
            continue
        by_kind[spec.kind][path.stem] = spec  # type: ignore[attr-defined]
    specs = StreamingSpecs(functions=by_kind["lambda_function"], delivery_streams=by_kind["delivery_stream"],
                           database_roles=by_kind["database_role"], directory=directory)
    if not problems:
        problems = _reference_problems(specs)
    if problems:
        raise SpecError("invalid streaming configuration:\n" + "\n".join(problems))
    return specs


def _reference_problems(specs: StreamingSpecs) -> list[str]:
    problems = []
    for key, function in specs.functions.items():
        if function.database_role not in specs.database_roles:
            problems.append(f"{_display(specs.directory / f'{key}.yaml')}: database_role: no database_role file "
                            f"{function.database_role!r} (known: {', '.join(specs.database_roles) or 'none'})")
    for key, stream in specs.delivery_streams.items():
        if stream.processor.function not in specs.functions:
            problems.append(f"{_display(specs.directory / f'{key}.yaml')}: processor.function: no lambda_function "
                            f"file {stream.processor.function!r} (known: {', '.join(specs.functions) or 'none'})")
            continue
        smoke = specs.functions[stream.processor.function].smoke_test
        if not isinstance(smoke, FirehoseSmokeTest):
            problems.append(f"{_display(specs.directory / f'{key}.yaml')}: processor.function: "
                            f"{stream.processor.function!r} is not smoke-tested as a firehose_transformation")
    for kinds, items in (("lambda_function", specs.functions), ("delivery_stream", specs.delivery_streams)):
        names: dict[str, str] = {}
        for key, item in items.items():
            if item.name in names:  # type: ignore[attr-defined]
                problems.append(f"{kinds} {key} and {names[item.name]} share the name {item.name}")  # type: ignore[attr-defined]
            names[item.name] = key  # type: ignore[attr-defined]
    return problems
