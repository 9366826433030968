"""The end-to-end demo on the running local platform: the pipeline runs triggered through Airflow's REST API, as
the UI's trigger button does, then a summary. The platform keeps running afterwards (`make down` stops it).

1. The Asset-scheduled DAGs (`reference_model_training`, `embeddings_load`) are unpaused first, so the export's
   Asset event starts them, as it does on MWAA.
2. `platform_healthcheck` and `training_data_export` are triggered, then unpaused. On a fresh platform each is
   triggered for its due slot (the DAG's `next_dagrun_logical_date`, e.g. last Monday 03:00): unpausing a DAG
   whose slot is already due makes the scheduler start that run at once, and with the demo's run in the slot it
   starts no second one. Otherwise the run is for now, and the export's `export_date` is the run's date.
3. The demo waits for those runs, then for the training and the load that the Asset events start.
4. Every other DAG is unpaused last, so the platform goes on as MWAA would: the schedules (the 15-minute dashboard
   refresh, the 5-minute watchdog, the hourly healthcheck, Monday's export) run until `make down`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3

from devstack.airflow_local import PlatformConfig, components
from devstack.airflow_local.rest_api import AirflowApi
from devstack.airflow_local.settings import ADMIN_USER
from devstack.stack import StackConfig

ASSET_SCHEDULED = ("reference_model_training", "embeddings_load")
RUN_TIMEOUT = 1800.0


def trigger(api: AirflowApi, dag_id: str, conf: Callable[[datetime], dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    run = api.trigger_due(dag_id, conf, note="triggered by `make demo`")
    print(f"==> triggered {dag_id} {json.dumps(run['conf'])} run {run['dag_run_id']}", flush=True)
    return run


def finished(api: AirflowApi, run: dict[str, Any], platform: PlatformConfig) -> dict[str, Any]:
    """Wait for the run; stop the demo naming the failed tasks if it failed."""
    run = api.wait_for_run(run["dag_id"], run["dag_run_id"], timeout=RUN_TIMEOUT)
    print(f"    {run['dag_id']} {run['state']} in {run['duration'] or 0:.1f}s", flush=True)
    if run["state"] != "success":
        failed = {t: s for t, s in api.task_states(run["dag_id"], run["dag_run_id"]).items() if s != "success"}
        raise SystemExit(f"{run['dag_id']} run {run['dag_run_id']} {run['state']}: {failed}\n"
                         f"Its task logs: {platform.url}/dags/{run['dag_id']}/runs/{run['dag_run_id']} "
                         f"(the platform keeps running; `make down` stops it)")
    return run


def run_demo(cfg: StackConfig, platform: PlatformConfig, stream_events_count: int = 500) -> None:
    from dataplatform.batch.training_export import MANIFEST, snapshot_key
    from dataplatform.config import settings

    api = components.api(platform)
    known = {dag_id: {r["dag_run_id"] for r in api.runs(dag_id)} for dag_id in ASSET_SCHEDULED}
    for dag_id in ASSET_SCHEDULED:
        api.unpause(dag_id)
    runs = [trigger(api, "platform_healthcheck"),
            trigger(api, "training_data_export", lambda day: {"export_date": day.date().isoformat()})]
    runs = [finished(api, run, platform) for run in runs]
    export_date = runs[1]["conf"]["export_date"]
    for dag_id in ASSET_SCHEDULED:  # started by the Asset events of the export, then of the training
        run = api.wait_for_new_run(dag_id, known[dag_id], timeout=RUN_TIMEOUT)
        print(f"==> {dag_id} started by an Asset event: run {run['dag_run_id']}", flush=True)
        runs.append(finished(api, run, platform))
    scheduled = unpause_the_rest(api)

    s = settings()
    manifest = json.loads(boto3.client("s3").get_object(
        Bucket=s.data_lake_bucket, Key=f"{snapshot_key(export_date)}/{MANIFEST}")["Body"].read())
    print("\n================ summary ================")
    for run in runs:
        print(f"{run['dag_id']:<24} {run['state']:<8} {run['duration'] or 0:6.1f}s  {run['run_type']:<15} "
              f"{run['dag_run_id']}")
    print(f"training snapshot        s3://{s.data_lake_bucket}/{snapshot_key(export_date)}/")
    print(f"  rows                   {manifest['row_count']:,} (source: {manifest['source_row_counts']})")
    print(f"  data quality           {'passed' if manifest['quality']['passed'] else 'FAILED'} "
          f"({len(manifest['quality']['rules'])} rules)")
    print_live_model()

    # --- streaming (devstack.streaming): events through Kinesis, Firehose and the Lambda into the bucket ----------
    from devstack.streaming.pipeline import stream_events

    counts = stream_events(stream_events_count)
    print(f"streaming                {counts.summary()}")

    for i, (dag_id, when) in enumerate(scheduled.items()):
        print(f"{'unpaused' if i == 0 else '':<24} {dag_id:<26} {when}")
    print(f"local stack              MariaDB :{cfg.mysql_port}  PostgreSQL :{cfg.pg_port}  "
          f"moto :{cfg.moto_port}  Glue :{cfg.glue_port}  (state in {cfg.state_dir})")
    print_platform(platform)


def unpause_the_rest(api: AirflowApi) -> dict[str, str]:
    """Unpause every DAG still paused (a due scheduled run starts now); {dag_id: when it runs next}."""
    for dag_id, dag in api.dags().items():
        if dag["is_paused"]:
            api.unpause(dag_id)
    now = datetime.now(UTC)

    def when(dag: dict[str, Any]) -> str:
        after = dag["next_dagrun_run_after"]
        if not after:
            return dag["timetable_summary"] or "by hand"
        return f"{dag['timetable_summary']}, next run {'due now' if datetime.fromisoformat(after) <= now else after}"

    return {dag_id: when(dag) for dag_id, dag in sorted(api.dags().items())}


def print_live_model() -> None:
    import psycopg

    from dataplatform.batch import popular_products
    from dataplatform.vectordb import store as vector_store

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


def print_platform(platform: PlatformConfig) -> None:
    print(f"Airflow UI               {platform.url}  login {ADMIN_USER} / {platform.admin_password()} "
          f"(in {platform.passwords_file})")
    print(f"REST API                 {platform.url}/api/v2 (JWT from POST {platform.url}/auth/token)")
    print(f"platform logs            {platform.log_dir}/")
    print("The platform keeps running (schedules, Asset triggers, SLA-miss alerts): `make down` stops it.")
