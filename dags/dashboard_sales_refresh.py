"""
# dashboard_sales_refresh

Every 15 minutes, the sales dashboard's data: orders by **hour x country x product line** (orders, units, revenue),
at most one hour old (marketing's SLA; the goal for one order is under 20 minutes), in PostgreSQL
`analytics.sales_hourly`, which the dashboards query.

1. `check_source_schema`: the replica against `include/contracts/sales_source.yaml`. It needs
   `orders.orderTimestamp`, the platform team's announced additive change: until the replica has it, the run
   fails naming the column and the announcement it waits for (no retries; nothing else runs).
2. `create_sales_stage` (setup): the `analytics` schema (created if missing), the dashboard table, the refresh-run
   table and an empty stage table.
3. `plan_refresh_window`: from the **watermark** (the newest order time already published) minus 3 h of late
   data (`include/freshness/dashboard.yaml`), to now and beyond. First run: the whole history. With the params
   `start_date` and `end_date` (inclusive, UTC days): a **backfill** of exactly those days (the watermark stays).
4. `stage_sales_window`: reads the window's order lines from the read replica (`mysql_source`, read-only; an
   index range on `orderTimestamp`, 7-day slices), joined to customers (country) and products (product line),
   aggregates them with pandas, and writes the result to `analytics.sales_hourly_stage`.
5. Data quality on the stage (common-sql operators on `pg_vector`), before anything is published:
   `check_sales_columns` (no negative units or revenue, no missing hour, country or product line),
   `check_sales_revenue` (the staged revenue equals the sum of quantity x price of the lines read),
   `check_sales_hours` (no future hour, no order time in the future).
6. `publish_sales_window`: one transaction: changed groups upserted, groups the source no longer has in the
   window deleted, the run recorded in `analytics.sales_refresh_runs` with the **freshness it achieved**
   (published_at minus the dashboard's newest order time; the task's return value and log say it in minutes).
7. `drop_sales_stage` (teardown): drops the stage, whatever happened.

Idempotent: whole hours are replaced from the source, and unchanged groups are not touched, so a rerun or an
overlapping window changes nothing. Late orders and changed lines within the trailing 3 h are picked up by the
next run; older corrections need a backfill run. Orders without `orderTimestamp` have no hour and are not shown.

**Inputs:** connection `mysql_source` (the MySQL read replica: `orders`, `orderdetails`, `customers`, `products`).
**Outputs:** `analytics.sales_hourly` (order_hour, country, product_line, orders, units, revenue, last_event_at),
`analytics.sales_refresh_runs` (one row per published run). **Owner:** data-platform.

**Runbook:** *schema*: the message names the missing column and the announcement; once the platform team has
applied it to the replica, the next run proceeds by itself. *Data quality*: the failed check's log names the rule
and the values; the dashboard keeps its previous data (nothing was published); fix the source or the code, then
clear the run. *Late correction older than 3 h*: trigger with `{"start_date": "YYYY-MM-DD", "end_date": "YYYY-MM-DD"}`.
*Stale dashboard*: `pipeline_watchdog`'s `check_dashboard_freshness` alerts past 1 hour.

**SLA:** a run not finished **10 min** after it was queued (`deadline_minutes` in `include/freshness/dashboard.yaml`)
sends an SLA-miss alert to the SNS alerts topic: a run that slow puts the 20-minute goal for new orders at risk.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLValueCheckOperator,
)
from airflow.sdk import Param, chain, dag, task

from dataplatform.batch.source_schema import SchemaDriftError
from dataplatform.config import templated
from dataplatform.freshness import dashboard_spec, sales_extract, sales_table
from dataplatform.freshness.models import RefreshWindow, StagedWindow
from dataplatform.freshness.refresh_window import InvalidRefreshRange
from dataplatform.orchestration.connections import source_hook, vector_hook
from dataplatform.orchestration.dag_defaults import MACROS, configured, default_args, no_retry_on
from dataplatform.orchestration.deadlines import sla_miss_alert
from dataplatform.paths import sql_path

SPEC = dashboard_spec.load()
DATE_PARAM = {"type": ["null", "string"], "format": "date"}


@dag(
    schedule=SPEC.schedule,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    user_defined_macros=MACROS,
    params={
        "start_date": Param(None, **DATE_PARAM,
                            description="Backfill: first day (UTC, inclusive); empty: incremental"),
        "end_date": Param(None, **DATE_PARAM, description="Backfill: last day (UTC, inclusive)"),
    },
    deadline=sla_miss_alert("dashboard_sales_refresh", timedelta(minutes=SPEC.deadline_minutes),
                            "deadline_minutes in include/freshness/dashboard.yaml"),
    tags=["freshness", "dashboard", "sales"],
    doc_md=__doc__,
)
def dashboard_sales_refresh():
    s = templated()

    @task
    def check_source_schema() -> dict:
        with source_hook().get_conn() as conn, no_retry_on(SchemaDriftError):
            return sales_extract.check_source_schema(conn, configured().source_database).as_dict()

    @task
    def create_sales_stage() -> None:
        with vector_hook().get_conn() as pg:
            sales_table.ensure_tables(pg)

    @task
    def plan_refresh_window(params=None) -> dict:
        from dataplatform.freshness import dashboard_refresh  # pandas: paid by the task, not by every parse

        with vector_hook().get_conn() as pg, no_retry_on(InvalidRefreshRange):
            return dashboard_refresh.plan(pg, late_data_hours=SPEC.late_data_hours, start_date=params["start_date"],
                                          end_date=params["end_date"]).payload()

    @task
    def stage_sales_window(window: dict, ti=None) -> dict:
        from dataplatform.freshness import dashboard_refresh

        with vector_hook().get_conn() as pg:
            staged = dashboard_refresh.stage(source_hook(), pg, RefreshWindow.from_payload(window),
                                             slice_days=SPEC.slice_days)
        ti.xcom_push(key="line_revenue", value=str(staged.line_revenue))
        return staged.payload()

    check_sales_columns = SQLColumnCheckOperator(
        task_id="check_sales_columns",
        conn_id=s.vector_conn_id,
        table=sales_table.STAGE,
        column_mapping={
            "units": {"min": {"geq_to": 0}, "null_check": {"equal_to": 0}},
            "revenue": {"min": {"geq_to": 0}, "null_check": {"equal_to": 0}},
            "order_hour": {"null_check": {"equal_to": 0}},
            "country": {"null_check": {"equal_to": 0}},
            "product_line": {"null_check": {"equal_to": 0}},
        },
    )
    check_sales_revenue = SQLValueCheckOperator(
        task_id="check_sales_revenue",
        conn_id=s.vector_conn_id,
        sql=sql_path("select_sales_stage_revenue.sql").read_text(),
        pass_value="{{ ti.xcom_pull(task_ids='stage_sales_window', key='line_revenue') }}",
    )
    check_sales_hours = SQLCheckOperator(
        task_id="check_sales_hours",
        conn_id=s.vector_conn_id,
        sql=sql_path("check_sales_stage_hours.sql").read_text(),
    )

    @task
    def publish_sales_window(staged: dict, run_id=None) -> dict:
        with vector_hook().get_conn() as pg:
            record = sales_table.publish(pg, StagedWindow.from_payload(staged), run_id)
        print(f"dashboard freshness: {record.freshness_minutes} min (newest order {record.newest_event_at}); "
              f"{record.inserted} groups inserted, {record.updated} updated, {record.deleted} deleted")
        return record.payload()

    @task
    def drop_sales_stage() -> None:
        with vector_hook().get_conn() as pg:
            sales_table.drop_stage(pg)

    create = create_sales_stage()
    window = plan_refresh_window()
    staged = stage_sales_window(window)
    published = publish_sales_window(staged)
    chain(check_source_schema(), create, window)
    chain(staged, [check_sales_columns, check_sales_revenue, check_sales_hours], published)
    published >> drop_sales_stage().as_teardown(setups=create)

dashboard_sales_refresh()
