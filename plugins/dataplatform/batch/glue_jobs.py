"""Glue jobs as code: the spec in `include/glue/jobs.yaml`, the script upload, GlueJobOperator's arguments.

The DAGs run the provider's `GlueJobOperator` with `operator_kwargs()`: with `update_config=True` it creates the
job, or updates it when the spec changed, then starts a run and (deferrable) waits for it. Locally the same
calls reach the local Glue endpoint of the devstack (`devstack/glue_local.py`), routed there by the
`aws_default` connection; nothing here knows about it.

Plain Python (boto3 clients are passed in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dataplatform import s3 as s3_ops
from dataplatform.config import Settings
from dataplatform.paths import glue_script, include_dir

JOBS_FILE = "jobs.yaml"


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
    poll_seconds: int
    """How often the deferred task asks Glue for the run's state."""
    default_arguments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, key: str, path: Path | None = None) -> GlueJobSpec:
        specs = _read(path)
        if key not in specs:
            raise KeyError(f"no Glue job {key!r} in {path or include_dir() / 'glue' / JOBS_FILE}: {sorted(specs)}")
        return cls(key=key, **specs[key])

    @classmethod
    def load_all(cls, path: Path | None = None) -> list[GlueJobSpec]:
        return [cls(key=key, **spec) for key, spec in _read(path).items()]

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

    def waiter_max_attempts(self) -> int:
        """Polls enough to outlast the job's own timeout (Glue then reports TIMEOUT), plus a few."""
        return math.ceil(self.timeout_minutes * 60 / self.poll_seconds) + 5

    def operator_kwargs(self, s: Settings) -> dict[str, Any]:
        """GlueJobOperator arguments that create or update the job to match this spec, run it and wait for it
        (`deferrable` is the DAG's choice). A killed task stops its Glue run."""
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
            "waiter_delay": self.poll_seconds,
            "waiter_max_attempts": self.waiter_max_attempts(),
            "stop_job_run_on_kill": True,
            "aws_conn_id": s.aws_conn_id,
            "region_name": s.region,
        }


def _read(path: Path | None) -> dict[str, dict[str, Any]]:
    return yaml.safe_load((path or include_dir() / "glue" / JOBS_FILE).read_text())


def sync_script(s3: Any, spec: GlueJobSpec, s: Settings) -> dict[str, Any]:
    """Upload the job's script where Glue reads it, only when its checksum changed (`dataplatform.s3`)."""
    put = s3_ops.put_if_changed(s3, s.glue_assets_bucket, spec.script_key(), spec.script_path())
    return {"script": spec.script_location(s), "sha256": put.sha256, "uploaded": put.uploaded}
