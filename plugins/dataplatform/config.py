"""One typed settings object for the whole platform.

Every AWS resource name is derived from one prefix, so dev, staging and prod differ by a single value.
Values come from environment variables (set by `devstack` locally, by the Astro `.env`, and by the MWAA
startup script), never from Airflow Variables: reading them costs nothing at DAG parse time.
Plain Python: no Airflow import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Literal

GlueRunner = Literal["glue", "local"]


@dataclass(frozen=True)
class Settings:
    prefix: str
    region: str
    glue_runner: GlueRunner
    account_id: str
    retry_delay_seconds: int = 120
    aws_conn_id: str = "aws_default"
    source_conn_id: str = "mysql_source"
    vector_conn_id: str = "pg_vector"
    source_database: str = "classicmodels"

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


def _env(name: str, default: str) -> str:
    return os.environ.get(f"DATAPLATFORM_{name}", default)


@cache
def settings() -> Settings:
    runner = _env("GLUE_RUNNER", "glue")
    if runner not in ("glue", "local"):
        raise ValueError(f"DATAPLATFORM_GLUE_RUNNER must be 'glue' or 'local', got {runner!r}")
    prefix = _env("PREFIX", "reco-prod")
    return Settings(
        prefix=prefix,
        region=_env("REGION", "eu-west-1"),
        glue_runner=runner,  # type: ignore[arg-type]
        account_id=_env("ACCOUNT_ID", ""),
        retry_delay_seconds=int(_env("RETRY_DELAY_SECONDS", "120")),
    )
