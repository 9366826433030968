"""The end-to-end demo: every pipeline DAG, in order, with `airflow dags test`, then a summary."""

from __future__ import annotations

import json
import os
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
    import psycopg

    from dataplatform.batch import popular_products
    from dataplatform.batch.training_export import MANIFEST, snapshot_key
    from dataplatform.config import settings
    from dataplatform.vectordb import artifacts as model_artifacts
    from dataplatform.vectordb import store as vector_store

    s = settings()
    s3 = boto3.client("s3")
    export_date = datetime.now(UTC).date().isoformat()
    timings = {
        "platform_healthcheck": dags_test("platform_healthcheck"),
        "training_data_export": dags_test("training_data_export", {"export_date": export_date}),
        "reference_model_training": dags_test("reference_model_training", {"export_date": export_date}),
    }
    version = model_artifacts.resolve(s3, s.ml_artifacts_bucket).version
    timings["embeddings_load"] = dags_test("embeddings_load", {"version": version})
    manifest = json.loads(s3.get_object(Bucket=s.data_lake_bucket,
                                        Key=f"{snapshot_key(export_date)}/{MANIFEST}")["Body"].read())
    print("\n================ summary ================")
    for dag_id, seconds in timings.items():
        print(f"{dag_id:<24} success  {seconds:6.1f}s")
    print(f"training snapshot        s3://{s.data_lake_bucket}/{snapshot_key(export_date)}/")
    print(f"  rows                   {manifest['row_count']:,} (source: {manifest['source_row_counts']})")
    print(f"  data quality           {'passed' if manifest['quality']['passed'] else 'FAILED'} "
          f"({len(manifest['quality']['rules'])} rules)")
    conn = json.loads(os.environ["AIRFLOW_CONN_PG_VECTOR"])
    with psycopg.connect(host=conn["host"], port=conn["port"], user=conn["login"], password=conn["password"],
                         dbname=conn["schema"]) as pg:
        live = vector_store.live_version(pg)
        popular = popular_products.top(pg, "France", k=5)
        similar = vector_store.similar_items(pg, popular[0], k=3) if popular else []
    print(f"live model               {live['version']}  dimension {live['dimension']}, "
          f"{live['item_count']:,} items, {live['user_count']:,} users")
    metrics = live.get("metrics") or {}
    if metrics:
        print(f"  holdout                RMSE {metrics['rmse']:.3f} (global mean {metrics['rmse_global_mean']:.3f}), "
              f"hit rate@10 {metrics['hit_rate_at_10']:.3f} "
              f"(most popular {metrics['hit_rate_at_10_most_popular']:.3f})")
    print(f"popular in France        {', '.join(popular)}")
    if similar:
        print(f"similar to {popular[0]:<13} {', '.join(f'{code} ({dist:.3f})' for code, dist in similar)}")
    print(f"local stack              MariaDB :{cfg.mysql_port}  PostgreSQL :{cfg.pg_port}  "
          f"moto :{cfg.moto_port}  (state in {cfg.state_dir})")
