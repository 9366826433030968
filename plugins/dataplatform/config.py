"""One typed settings object for the whole platform.

Every AWS resource name is derived from one prefix, so dev, staging and prod differ by a single value.
Values come from the environment, never from Airflow Variables (reading them costs nothing at DAG parse
time): `DATAPLATFORM_<NAME>`, else the Airflow configuration option `dataplatform.<name>` (which MWAA exports
as `AIRFLOW__DATAPLATFORM__<NAME>`). `devstack` sets them locally, the Astro image in its Dockerfile, and the
MWAA startup script derives them from what MWAA provides.

**Nothing has a default that names a resource.** The prefix, the account id and the region are required:
`settings()` raises `ConfigurationError` naming the variable and the MWAA option to set, and every task
calls it at start (`orchestration.dag_defaults`), so a misconfigured environment fails before it touches
anything instead of writing to a production bucket or sending a malformed ARN. Parsing a DAG file needs no
configuration: DAG files put `templated()` names into operators' templated fields, rendered when the task
runs, and `parse_time()` gives the Assets a placeholder bucket when nothing is configured.

Plain Python: no Airflow import.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

_PREFIX = re.compile(r"[a-z0-9][a-z0-9-]{1,38}[a-z0-9]")
"""Bucket-name safe: the longest derived bucket, `<prefix>-recommendations`, stays within S3's 63 characters."""
_ACCOUNT_ID = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
UNCONFIGURED = "unconfigured"


class ConfigurationError(RuntimeError):
    """The environment does not say which account and resources to use; the message says what to set."""


@dataclass(frozen=True)
class Settings:
    prefix: str
    region: str
    account_id: str
    retry_delay_seconds: int = 120
    # SLA-miss alerts (orchestration.deadlines): a run still unfinished this long after it was queued alerts
    platform_healthcheck_deadline_seconds: int = 15 * 60
    training_data_export_deadline_seconds: int = 3 * 3600
    reference_model_training_deadline_seconds: int = 3600
    embeddings_load_deadline_seconds: int = 3600
    aws_conn_id: str = "aws_default"
    source_conn_id: str = "mysql_source"
    vector_conn_id: str = "pg_vector"
    source_database: str = "classicmodels"
    # The serving Lambdas' network (include/streaming/*.yaml `vpc`): comma-separated ids, both empty = no VPC
    lambda_subnet_ids: str = ""
    lambda_security_group_ids: str = ""

    @property
    def data_lake_bucket(self) -> str:
        return f"{self.prefix}-data-lake"

    @property
    def ml_artifacts_bucket(self) -> str:
        return f"{self.prefix}-ml-artifacts"

    @property
    def recommendations_bucket(self) -> str:
        return f"{self.prefix}-recommendations"

    @property
    def glue_assets_bucket(self) -> str:
        return f"{self.prefix}-glue-assets"

    @property
    def mwaa_bucket(self) -> str:
        return f"{self.prefix}-mwaa"

    @property
    def activity_stream(self) -> str:
        return f"{self.prefix}-user-activity"

    @property
    def delivery_stream(self) -> str:
        """The Firehose delivery stream: the activity stream, transformed, into the recommendations bucket."""
        return f"{self.prefix}-recommendations"

    @property
    def stream_transformation_function(self) -> str:
        return f"{self.prefix}-stream-transformation"

    @property
    def model_inference_function(self) -> str:
        return f"{self.prefix}-model-inference"

    @property
    def alerts_topic(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def glue_database(self) -> str:
        return f"{self.prefix.replace('-', '_')}_lake"

    @property
    def buckets(self) -> tuple[str, ...]:
        return (
            self.data_lake_bucket,
            self.ml_artifacts_bucket,
            self.recommendations_bucket,
            self.glue_assets_bucket,
            self.mwaa_bucket,
        )

    @property
    def alerts_topic_arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.account_id}:{self.alerts_topic}"

    @property
    def glue_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{self.prefix}-glue"


def _how_to_set(name: str) -> str:
    return (f"set the environment variable DATAPLATFORM_{name.upper()} (locally: `eval \"$(.venv/bin/python -m "
            f"devstack env)\"`), or on MWAA the Airflow configuration option dataplatform.{name} "
            f"(`aws mwaa update-environment --airflow-configuration-options dataplatform.{name}=...`; startup.sh "
            "exports it)")


def _raw(name: str) -> str | None:
    value = os.environ.get(f"DATAPLATFORM_{name.upper()}") or os.environ.get(f"AIRFLOW__DATAPLATFORM__{name.upper()}")
    return value.strip() if value and value.strip() else None


def _required(name: str, pattern: re.Pattern[str], example: str, problems: list[str]) -> str:
    value = _raw(name)
    if value is None:
        problems.append(f"{name} is not set: {_how_to_set(name)}")
    elif not pattern.fullmatch(value):
        problems.append(f"{name}={value!r} is malformed (expected e.g. {example!r}): {_how_to_set(name)}")
    return value or ""


_SECONDS = ("retry_delay_seconds", "platform_healthcheck_deadline_seconds", "training_data_export_deadline_seconds",
            "reference_model_training_deadline_seconds", "embeddings_load_deadline_seconds")
"""Optional whole numbers of seconds, each with its default in `Settings`."""


_TEXTS = ("lambda_subnet_ids", "lambda_security_group_ids")
"""Optional text settings, validated where they are used (the streaming specs name the file and field)."""


def _optional() -> dict[str, Any]:
    out: dict[str, Any] = {name: value for name in _TEXTS if (value := _raw(name)) is not None}
    for name in _SECONDS:
        value = _raw(name)
        if value is not None:
            if not value.isdigit():
                raise ConfigurationError(f"{name} must be a whole number of seconds, got {value!r}")
            if name.endswith("_deadline_seconds") and int(value) == 0:
                raise ConfigurationError(f"{name} must be at least 1 second, got {value!r}")
            out[name] = int(value)
    return out


@cache
def settings() -> Settings:
    """The validated settings; raises `ConfigurationError` listing every missing or malformed value."""
    problems: list[str] = []
    prefix = _required("prefix", _PREFIX, "reco-staging", problems)
    account_id = _required("account_id", _ACCOUNT_ID, "123456789012", problems)
    region = _required("region", _REGION, "eu-west-1", problems)
    if problems:
        raise ConfigurationError("the data platform is not configured:\n  " + "\n  ".join(problems))
    return Settings(prefix=prefix, region=region, account_id=account_id, **_optional())


def parse_time() -> Settings:
    """Settings for what a DAG file needs while it is parsed (Asset URIs, retry delays): the configured values,
    or `unconfigured` placeholders. Never raises for a missing value; tasks still fail at start without one."""
    try:
        return settings()
    except ConfigurationError:
        return Settings(prefix=UNCONFIGURED, region=UNCONFIGURED, account_id=UNCONFIGURED, **_optional())


class _Templated:
    """Every `Settings` attribute as the Jinja expression `{{ dataplatform.<name> }}`, rendered when the task runs
    (the DAGs register the `dataplatform` macro: `orchestration.dag_defaults.MACROS`)."""

    _names = frozenset({f.name for f in fields(Settings)} | {n for n, v in vars(Settings).items()
                                                              if isinstance(v, property)})

    _fixed = frozenset({*_SECONDS, "aws_conn_id", "source_conn_id", "vector_conn_id", "source_database"})
    """Not resource names and never missing: their values as they are."""

    def __getattr__(self, name: str) -> Any:
        if name not in self._names:
            raise AttributeError(f"Settings has no attribute {name!r}")
        if name in self._fixed:
            return getattr(parse_time(), name)
        return "{{ dataplatform." + name + " }}"


def templated() -> Any:
    """Settings whose values are templates: for operators' templated fields in DAG files (typed as Settings)."""
    return _Templated()
