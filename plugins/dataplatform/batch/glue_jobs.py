"""Glue jobs as code: the spec in `include/glue/jobs.yaml`, the script upload, GlueJobOperator's arguments.

Plain Python (boto3 clients are passed in).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dataplatform.config import Settings
from dataplatform.paths import glue_script, include_dir


@dataclass(frozen=True)
class GlueJobSpec:
    key: str
    description: str
    script: str
    glue_version: str
    worker_type: str
    number_of_workers: int
    timeout_minutes: int
    max_concurrent_runs: int
    connection: str
    jdbc_driver: str
    num_partitions: int
    default_arguments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, key: str, path: Path | None = None) -> GlueJobSpec:
        specs = yaml.safe_load((path or include_dir() / "glue" / "jobs.yaml").read_text())
        return cls(key=key, **specs[key])

    def job_name(self, s: Settings) -> str:
        return f"{s.prefix}-{self.key.replace('_', '-')}"

    def connection_name(self, s: Settings) -> str:
        return f"{s.prefix}-{self.connection}"

    def script_key(self) -> str:
        return f"scripts/{self.script}"

    def script_location(self, s: Settings) -> str:
        return f"s3://{s.glue_assets_bucket}/{self.script_key()}"

    def script_path(self) -> Path:
        return glue_script(self.script)

    def operator_kwargs(self, s: Settings) -> dict[str, Any]:
        """GlueJobOperator arguments that create or update the job to match this spec, then run it."""
        return {
            "job_name": self.job_name(s),
            "job_desc": self.description,
            "script_location": self.script_location(s),
            "iam_role_arn": s.glue_role_arn,
            "concurrent_run_limit": self.max_concurrent_runs,
            "update_config": True,
            "create_job_kwargs": {
                "GlueVersion": self.glue_version,
                "WorkerType": self.worker_type,
                "NumberOfWorkers": self.number_of_workers,
                "Timeout": self.timeout_minutes,
                "Connections": {"Connections": [self.connection_name(s)]},
                "DefaultArguments": {**self.default_arguments,
                                     "--TempDir": f"s3://{s.glue_assets_bucket}/temp/{self.key}/"},
            },
            "aws_conn_id": s.aws_conn_id,
            "region_name": s.region,
        }


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sync_script(s3: Any, spec: GlueJobSpec, s: Settings) -> dict[str, Any]:
    """Upload the job's script where Glue reads it, only when its checksum changed."""
    local = spec.script_path()
    digest = file_sha256(local)
    try:
        current = s3.head_object(Bucket=s.glue_assets_bucket, Key=spec.script_key())["Metadata"].get("sha256")
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchKey"):
            raise
        current = None
    if current != digest:
        s3.put_object(Bucket=s.glue_assets_bucket, Key=spec.script_key(), Body=local.read_bytes(),
                      Metadata={"sha256": digest})
    return {"script": spec.script_location(s), "sha256": digest, "uploaded": current != digest}
