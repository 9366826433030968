"""The end-to-end demo on the running local platform: the pipeline runs triggered through Airflow's REST API, as
the UI's trigger button does, then a summary. The platform keeps running afterwards (`make down` stops it).

0. Before the source is (re)seeded, with the announced `orders.orderTimestamp` (`python -m devstack demo`):
   `hold_freshness_dags` pauses the two freshness DAGs of a platform that already runs and waits for their running
   runs, so no refresh reads a source being reloaded; `start_sales` then empties the dashboard tables (they were
   built from the previous source) and starts the order simulator in the background (6 orders a minute for an
   hour; `make down` stops it).
1. The Asset-scheduled DAGs (`reference_model_training`, `embeddings_load`) are unpaused first, so the export's
   Asset event starts them, as it does on MWAA.
2. `platform_healthcheck` and `training_data_export` are triggered, then unpaused. On a fresh platform each is
   triggered for its due slot (the DAG's `next_dagrun_logical_date`, e.g. last Monday 03:00): unpausing a DAG
   whose slot is already due makes the scheduler start that run at once, and with the demo's run in the slot it
   starts no second one. Otherwise the run is for now, and the export's `export_date` is the run's date.
3. The demo waits for those runs, then for the training and the load that the Asset events of its runs start,
   then for any other run of those DAGs (a restarted platform runs a due weekly export by itself), then streams
   events end to end (Kinesis, Firehose, the Lambda: the metrics the watchdog reads).
4. `dashboard_sales_refresh` is triggered (due slot, as above) and must succeed; then `pipeline_watchdog`, whose
   run ends red when a check breaches (by design: the check's task fails and alerts): its verdicts are printed,
   and that is not a demo failure.
5. Every other DAG is unpaused last, so the platform goes on as MWAA would: the schedules (the 15-minute dashboard
   refresh, the 5-minute watchdog, the hourly healthcheck, Monday's export) run until `make down`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx

from devstack.airflow_local import PlatformConfig, components
from devstack.airflow_local.rest_api import AirflowApi
from devstack.airflow_local.settings import ADMIN_USER
from devstack.stack import StackConfig

ASSET_SCHEDULED = ("reference_model_training", "embeddings_load")
DASHBOARD = "dashboard_sales_refresh"
WATCHDOG = "pipeline_watchdog"
RUN_TIMEOUT = 1800.0
ORDER_RATE = 6.0  # orders a minute from the background order simulator
ORDER_DURATION = 3600.0  # seconds, or until `make down`


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


def hold_freshness_dags(platform: PlatformConfig, timeout: float = 600.0) -> None:
    """On a platform that already runs (a second `make demo`): pause the two freshness DAGs once their active runs
    have finished, so none reads the source while it is reloaded. `trigger_due` unpauses them later."""
    if any(state != "ready" for state in components.check(platform).values()):
        return  # not running (or not all of it): `components.up` starts it after the seed
    api = components.api(platform)
    dags = api.dags()
    for dag_id in (DASHBOARD, WATCHDOG):
        if dag_id in dags:
            pause_when_idle(api, dag_id, timeout)


def pause_when_idle(api: AirflowApi, dag_id: str, timeout: float = 600.0) -> None:
    """Pause `dag_id` with no run of it left queued or running. The scheduler advances no run of a paused DAG (a run
    caught by the pause would stay running), so active runs are waited for with the DAG unpaused."""
    while True:
        active = [run for run in api.runs(dag_id) if run["state"] in ("queued", "running")]
        if not active:
            api.pause(dag_id)
            active = [run for run in api.runs(dag_id) if run["state"] in ("queued", "running")]
            if not active:
                return
        api.unpause(dag_id)  # until its active runs (and any a schedule tick creates meanwhile) have finished
        for run in active:
            print(f"==> waiting for {dag_id} run {run['dag_run_id']} to finish", flush=True)
            api.wait_for_run(dag_id, run["dag_run_id"], timeout=timeout)


def start_sales(cfg: StackConfig) -> int:
    """After the source was (re)seeded: empty the dashboard tables (built from the previous source; the next refresh
    rebuilds them from scratch) and start the background order simulator (`python -m devstack demo` has
    stopped a running one before the seed)."""
    from devstack import order_simulator
    from devstack.connections import StackConnections
    from devstack.stack import load_secrets

    with StackConnections(cfg, load_secrets(cfg)).vector_db(autocommit=True) as pg:
        for table in ("analytics.sales_hourly", "analytics.sales_refresh_runs"):
            if pg.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
                pg.execute(f"TRUNCATE {table}")
    pid = order_simulator.start_background(cfg, rate=ORDER_RATE, duration=ORDER_DURATION)
    print(f"==> order simulator: {ORDER_RATE:g} orders/min for {ORDER_DURATION / 60:.0f} min in the background "
          f"(pid {pid}, log {cfg.run_dir / 'order_simulator.log'})", flush=True)
    return pid


def run_demo(cfg: StackConfig, platform: PlatformConfig, stream_events_count: int = 500) -> None:
    from dataplatform.batch.training_export import MANIFEST, snapshot_key
    from dataplatform.config import settings
    from devstack.streaming.pipeline import stream_events

    api = components.api(platform)
    known = {dag_id: {r["dag_run_id"] for r in api.runs(dag_id)} for dag_id in ASSET_SCHEDULED}
    for dag_id in ASSET_SCHEDULED:
        api.unpause(dag_id)
    runs = [trigger(api, "platform_healthcheck"),
            trigger(api, "training_data_export", lambda day: {"export_date": day.date().isoformat()})]
    runs = [finished(api, run, platform) for run in runs]
    export_date = runs[1]["conf"]["export_date"]
    for dag_id in ASSET_SCHEDULED:  # started by the Asset events of the export, then of the training
        run = wait_for_asset_run(api, dag_id, runs[-1], known[dag_id])
        print(f"==> {dag_id} started by an Asset event: run {run['dag_run_id']}", flush=True)
        runs.append(finished(api, run, platform))
    settle(api, ("training_data_export", *ASSET_SCHEDULED))  # e.g. a restarted platform's own weekly export
    counts = stream_events(stream_events_count)  # before the watchdog: the Kinesis, Firehose and Lambda metrics
    print(f"==> streamed {counts.summary().splitlines()[0]}", flush=True)
    refresh = finished(api, trigger(api, DASHBOARD), platform)
    watchdog = judged(api, trigger(api, WATCHDOG))
    runs += [refresh, watchdog]
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
    print_live_model(cfg)
    print(f"streaming                {counts.summary()}")
    print_freshness(api, refresh, watchdog, cfg)

    for i, (dag_id, when) in enumerate(scheduled.items()):
        print(f"{'unpaused' if i == 0 else '':<24} {dag_id:<26} {when}")
    print(f"local stack              MariaDB :{cfg.mysql_port}  PostgreSQL :{cfg.pg_port}  "
          f"moto :{cfg.moto_port}  Glue :{cfg.glue_port}  (state in {cfg.state_dir})")
    print_platform(platform)


def wait_for_asset_run(api: AirflowApi, dag_id: str, source: dict[str, Any], known: set[str],
                       timeout: float = RUN_TIMEOUT, poll: float = 2.0) -> dict[str, Any]:
    """The run of `dag_id` that an Asset event of the run `source` started (not another run's event: a restarted
    platform may run the export's due weekly slot beside the demo's run)."""
    deadline = time.monotonic() + timeout
    while True:
        for run in reversed(api.runs(dag_id)):  # oldest first
            if run["dag_run_id"] in known:
                continue
            events = api.upstream_asset_events(dag_id, run["dag_run_id"])
            if any(e["source_run_id"] == source["dag_run_id"] for e in events):
                return run
        if time.monotonic() > deadline:
            raise SystemExit(f"no {dag_id} run started by an Asset event of {source['dag_id']} "
                             f"{source['dag_run_id']} after {timeout:.0f}s")
        time.sleep(poll)


def settle(api: AirflowApi, dag_ids: tuple[str, ...], quiet: float = 10.0, timeout: float = RUN_TIMEOUT) -> None:
    """Wait until no run of `dag_ids` is queued or running, twice `quiet` seconds apart (an Asset event starts the
    next DAG's run a scheduler loop after the previous run's task)."""
    deadline = time.monotonic() + timeout
    calm = 0
    while calm < 2 and time.monotonic() < deadline:
        active = [(d, r["dag_run_id"]) for d in dag_ids for r in api.runs(d) if r["state"] in ("queued", "running")]
        calm = 0 if active else calm + 1
        for dag_id, run_id in active:
            print(f"==> waiting for {dag_id} run {run_id} (not the demo's) to finish", flush=True)
            api.wait_for_run(dag_id, run_id, timeout=timeout)
        if calm < 2:
            time.sleep(quiet if calm else 0)


def judged(api: AirflowApi, run: dict[str, Any]) -> dict[str, Any]:
    """Wait for a watchdog run. Failed is an outcome here, not a demo failure: a breaching check fails its task by
    design (and alerts); the summary prints the verdicts."""
    run = api.wait_for_run(run["dag_id"], run["dag_run_id"], timeout=RUN_TIMEOUT)
    note = "" if run["state"] == "success" else " (a check breached or could not judge: see the verdicts below)"
    print(f"    {run['dag_id']} {run['state']} in {run['duration'] or 0:.1f}s{note}", flush=True)
    return run


def print_freshness(api: AirflowApi, refresh: dict[str, Any], watchdog: dict[str, Any], cfg: StackConfig) -> None:
    """The dashboard's freshness in minutes (now, and what the demo's refresh achieved) and the demo's watchdog run's
    verdict per check (from its `summarize_verdicts` return value, pushed even when the run ends red)."""
    from dataplatform.freshness import sales_table, watchdog_spec
    from dataplatform.freshness.models import RefreshRecord, Verdict
    from dataplatform.freshness.verdicts import summary_table
    from devstack import order_simulator
    from devstack.connections import StackConnections
    from devstack.stack import load_secrets

    record = RefreshRecord.from_payload(api.xcom(DASHBOARD, refresh["dag_run_id"], "publish_sales_window"))
    with StackConnections(cfg, load_secrets(cfg)).vector_db(autocommit=True) as pg:
        newest, now = sales_table.dashboard_freshness(pg)
        rows, hours, countries = pg.execute(
            "SELECT count(*), count(DISTINCT order_hour), count(DISTINCT country) FROM analytics.sales_hourly"
        ).fetchone()
    print(f"sales dashboard          analytics.sales_hourly: {rows:,} rows (hour x country x product line; "
          f"{hours:,} hours, {countries} countries)")
    if newest is None:
        print("  freshness              no data (no order with orderTimestamp in the source)")
    else:
        print(f"  freshness              {(now - newest).total_seconds() / 60:.1f} min now (newest order "
              f"{newest.astimezone(UTC):%H:%M:%S}Z; SLA 60 min); the demo's refresh achieved "
              f"{record.freshness_minutes} min ({record.kind}, {record.lines:,} order lines read)")
    pid = order_simulator.running_pid(cfg)
    print(f"  order simulator        {f'pid {pid}, {ORDER_RATE:g} orders/min' if pid else 'not running'} "
          f"(log {cfg.run_dir / 'order_simulator.log'}; `make down` stops it)")

    try:
        verdicts = [Verdict.from_payload(v) for v in api.xcom(WATCHDOG, watchdog["dag_run_id"], "summarize_verdicts")]
    except httpx.HTTPStatusError:  # summarize_verdicts itself did not run or failed before recording anything
        verdicts = []
    statuses = Counter(v.status for v in verdicts)
    print(f"watchdog verdicts        {watchdog['state']}: {statuses['ok']} ok, {statuses['idle']} idle, "
          f"{statuses['breach']} breach (run {watchdog['dag_run_id']})")
    for line in summary_table(verdicts).splitlines() if verdicts else []:
        print(f"  {line}")
    judged_checks = {v.check for v in verdicts}
    tasks = api.task_states(WATCHDOG, watchdog["dag_run_id"])
    for name in watchdog_spec.load().checks:
        if name not in judged_checks:
            print(f"  {name}: not judged (task check_{name} {tasks.get(f'check_{name}')}; see its log)")


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


def print_live_model(cfg: StackConfig) -> None:
    from dataplatform.batch import popular_products
    from dataplatform.vectordb import store as vector_store
    from devstack.connections import StackConnections
    from devstack.stack import load_secrets

    with StackConnections(cfg, load_secrets(cfg)).vector_db() as pg:
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
