"""The end-to-end demo: every pipeline DAG, in order, with `airflow dags test`, then a summary."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime

import boto3

from devstack.stack import StackConfig


def dags_test(dag_id: str, conf: dict | None = None) -> float:
    """Run one DAG like `airflow dags test` does; raise with the log's tail if the run failed."""
    started = time.monotonic()
    argv = [sys.executable, "-m", "airflow", "dags", "test", dag_id]
    if conf:
        argv += ["-c", json.dumps(conf)]
    print(f"==> airflow dags test {dag_id} {json.dumps(conf) if conf else ''}", flush=True)
    proc = subprocess.run(argv, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    if proc.returncode or "state=success" not in log:
        tail = "\n".join(log.splitlines()[-40:])
        raise SystemExit(f"DAG {dag_id} failed:\n{tail}")
    return time.monotonic() - started


def run_demo(cfg: StackConfig) -> None:
    from dataplatform.config import settings
    from dataplatform.training_export import MANIFEST, snapshot_key

    s = settings()
    export_date = datetime.now(UTC).date().isoformat()
    timings = {
        "platform_healthcheck": dags_test("platform_healthcheck"),
        "training_data_export": dags_test("training_data_export", {"export_date": export_date}),
    }
    s3 = boto3.client("s3")
    manifest = json.loads(s3.get_object(Bucket=s.data_lake_bucket,
                                        Key=f"{snapshot_key(export_date)}/{MANIFEST}")["Body"].read())
    print("\n================ summary ================")
    for dag_id, seconds in timings.items():
        print(f"{dag_id:<24} success  {seconds:6.1f}s")
    print(f"training snapshot        s3://{s.data_lake_bucket}/{snapshot_key(export_date)}/")
    print(f"  rows                   {manifest['row_count']:,} (source: {manifest['source_row_counts']})")
    print(f"  data quality           {'passed' if manifest['quality']['passed'] else 'FAILED'} "
          f"({len(manifest['quality']['rules'])} rules)")
    print(f"local stack              MariaDB :{cfg.mysql_port}  PostgreSQL :{cfg.pg_port}  "
          f"moto :{cfg.moto_port}  (state in {cfg.state_dir})")
