"""
# training_data_export

Weekly (Mondays 03:00 UTC) export of the recommender's training set from the MySQL **read replica** to the
data lake, for the data scientist. Trigger by hand with `export_date` to (re)build one snapshot.

1. `check_source_schema`: compares the live source with `include/contracts/training_source.yaml`. A missing,
   renamed or retyped column fails the run (nothing is exported) naming table, column, expected and found;
   new columns are listed in the summary (add one line to the contract to make one a feature).
2. `upload_glue_script`: puts `include/glue/training_data_export.py` where Glue reads it, if its checksum changed.
3. `run_export_job`: makes the Glue job match `include/glue/jobs.yaml` and runs it (deferrable); on the local
   stack the same script runs on local PySpark. Output:
   `s3://<prefix>-data-lake/ratings_ml_training/export_date=YYYY-MM-DD/` (snappy Parquet, `_manifest.json`,
   `_SUCCESS` only when the data-quality rules passed). Reruns replace that date's snapshot only.
4. `validate_snapshot`: the data-quality gate (row count = joined source count, rating in 1..5, keys complete
   and unique, schema = contract). Only a passing snapshot updates the `ratings_ml_training` Asset, which
   training DAGs schedule on.
5. `refresh_popular_products`: units sold in the 7 and 30 days up to the export date, per country and
   overall, into PostgreSQL `popular_products` (the recommender's fallback), replaced in one transaction; then
   its JSON copy to `s3://<prefix>-data-lake/popular_products/popular_products.json`, which the serving Lambdas
   read when they start while the database is unreachable.

**Inputs:** connection `mysql_source` (read-only); `pg_vector` for the popular products.
**Outputs:** the snapshot, Glue table `<prefix>_lake.ratings_ml_training`, the Asset event (uri, rows),
`popular_products`. **Owner:** data-platform.
**Runbook:** schema drift: read the failed task's message, update the contract after the platform team's
announcement, re-trigger with the same `export_date`. Quality failure: the manifest lists the failed rules.

**SLA:** a run not finished **3 h** after it was queued (`DATAPLATFORM_TRAINING_DATA_EXPORT_DEADLINE_SECONDS`,
default 10800; the Glue job itself times out after 60 min) sends an SLA-miss alert to the SNS alerts topic naming
the DAG, the run, the deadline and the run's state: Monday's snapshot is late for the data scientist.
"""

from __future__ import annotations

from datetime import date, datetime

import airflow.providers.amazon.aws.assets.s3  # noqa: F401 - s3:// Asset URIs; the DAG processor pre-imports it once
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.sdk import Param, chain, dag, task

from dataplatform.batch import popular_products, training_export
from dataplatform.batch.glue_jobs import GlueJobSpec, sync_script
from dataplatform.batch.source_schema import SchemaDriftError
from dataplatform.config import templated
from dataplatform.handoffs import Snapshot, TrainingSnapshotEvent
from dataplatform.orchestration.assets import TRAINING_SNAPSHOT
from dataplatform.orchestration.connections import aws_client, source_hook, vector_hook
from dataplatform.orchestration.dag_defaults import MACROS, configured, default_args, no_retry_on
from dataplatform.orchestration.deadlines import sla_miss_alert

EXPORT_DATE = "{{ params.export_date or ds }}"


@dag(
    schedule="0 3 * * 1",
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    user_defined_macros=MACROS,
    params={"export_date": Param(None, type=["null", "string"], format="date",
                                 description="Snapshot date to (re)build; empty = the run's date")},
    deadline=sla_miss_alert("training_data_export"),
    tags=["batch", "training-data", "glue"],
    doc_md=__doc__,
)
def training_data_export():
    s = templated()  # resource names render when a task starts: parsing needs no configuration
    job = GlueJobSpec.load("training_data_export")

    @task
    def check_source_schema() -> dict:
        with source_hook().get_conn() as conn, no_retry_on(SchemaDriftError):
            return training_export.check_source_schema(conn, configured().source_database).as_dict()

    @task
    def upload_glue_script() -> dict:
        return sync_script(aws_client("s3"), job, configured())

    run_export_job = GlueJobOperator(
        task_id="run_export_job",
        deferrable=True,
        script_args={
            "--connection_name": job.connection_name(s),
            "--jdbc_driver": job.jdbc_driver,
            "--source_database": s.source_database,
            "--output_path": f"s3://{s.data_lake_bucket}/{training_export.SNAPSHOT_ROOT}",
            "--export_date": EXPORT_DATE,
            "--contract": training_export.load_contract().job_argument(),
            "--run_id": "{{ run_id }}",
            "--num_partitions": str(job.num_partitions),
            "--catalog_database": s.glue_database,
            "--catalog_table": training_export.SNAPSHOT_ROOT,
        },
        **job.operator_kwargs(s),
    )

    @task(outlets=[TRAINING_SNAPSHOT])
    def validate_snapshot(export_date: str, schema_report: dict, outlet_events=None) -> dict:
        with no_retry_on(training_export.DataQualityError):
            snapshot = training_export.validate_snapshot(aws_client("s3"), configured().data_lake_bucket, export_date)
        outlet_events[TRAINING_SNAPSHOT].extra = TrainingSnapshotEvent(
            uri=snapshot.uri, row_count=snapshot.row_count, export_date=export_date).payload()
        return snapshot.model_copy(update={"new_source_columns": schema_report["new_columns"]}).payload()

    @task
    def refresh_popular_products(validated: dict) -> dict:
        as_of = date.fromisoformat(Snapshot.from_payload(validated).export_date)
        with source_hook().get_conn() as source, vector_hook().get_conn() as pg:
            return popular_products.refresh(source, pg, aws_client("s3"), configured().data_lake_bucket, as_of)

    schema_report = check_source_schema()
    snapshot = validate_snapshot(EXPORT_DATE, schema_report)
    chain(schema_report, upload_glue_script(), run_export_job, snapshot, refresh_popular_products(snapshot))


training_data_export()
