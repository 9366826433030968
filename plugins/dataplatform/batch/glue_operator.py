"""The project's operators (Airflow extension module)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

from dataplatform.config import settings
from dataplatform.paths import glue_script


class GlueJobRunOperator(GlueJobOperator):
    """`GlueJobOperator` that, on the local stack (`DATAPLATFORM_GLUE_RUNNER=local`), runs the same script on
    local PySpark instead of starting a Glue job run.

    Either way it first makes the Glue job match its spec (create or update, against moto locally). Locally the
    script writes to a temp folder and the snapshot is copied to `output_path` in the bucket; the source JDBC URL
    and credentials come from the Airflow connection `source_conn_id` instead of the Glue connection.
    """

    def __init__(self, *, script_name: str, source_conn_id: str, snapshot_arg: str = "--export_date",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.script_name = script_name
        self.source_conn_id = source_conn_id
        self.snapshot_arg = snapshot_arg

    def execute(self, context: Any) -> Any:
        if settings().glue_runner != "local":
            return super().execute(context)
        self.log.info("DATAPLATFORM_GLUE_RUNNER=local: syncing the job definition, running %s on local Spark",
                      self.script_name)
        self.hook.create_or_update_glue_job()
        return self._run_locally()

    def _run_locally(self) -> dict[str, Any]:
        from airflow.sdk import BaseHook

        from devstack import glue_local  # local stack only

        conn = BaseHook.get_connection(self.source_conn_id)
        args = dict(self.script_args)
        output_uri = args["--output_path"].rstrip("/")
        bucket, _, root = output_uri.removeprefix("s3://").partition("/")
        snapshot = f"{root}/export_date={args[self.snapshot_arg]}"
        with tempfile.TemporaryDirectory(prefix="glue-local-") as tmp:
            args |= {
                "--JOB_NAME": self.job_name,
                "--jdbc_url": f"jdbc:mysql://{conn.host}:{conn.port or 3306}/{conn.schema}",
                "--jdbc_driver": glue_local.MARIADB_JDBC_DRIVER,
                "--output_path": f"file://{tmp}",
            }
            glue_local.spark_submit(glue_script(self.script_name), args, env={
                "SOURCE_JDBC_USER": conn.login or "", "SOURCE_JDBC_PASSWORD": conn.password or ""})
            keys = glue_local.upload_snapshot(Path(tmp) / snapshot.rsplit("/", 1)[1], _s3(self.aws_conn_id),
                                              bucket, snapshot, last=("_manifest.json", "_SUCCESS"))
        self.log.info("uploaded %d objects to s3://%s/%s", len(keys), bucket, snapshot)
        return {"snapshot": f"s3://{bucket}/{snapshot}", "objects": len(keys)}


def _s3(aws_conn_id: str | None) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id).get_conn()
