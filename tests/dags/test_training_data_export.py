"""training_data_export end to end on MariaDB, moto and local Spark, through dag.test()."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest

from dataplatform.batch import popular_products
from dataplatform.batch.training_export import snapshot_key
from dataplatform.config import settings
from dataplatform.serving.popular import PopularProductsCopy

pytestmark = [pytest.mark.stack, pytest.mark.spark]
DAG = "training_data_export"


def joined_count(conn) -> int:
    cur = conn.cursor()
    cur.execute("SELECT COUNT(*) FROM ratings r JOIN customers c USING (customerNumber) "
                "JOIN products p USING (productCode)")
    return cur.fetchone()[0]


def snapshot_objects(s3, export_date: str) -> dict[str, str]:
    page = s3.list_objects_v2(Bucket=settings().data_lake_bucket, Prefix=snapshot_key(export_date) + "/")
    return {o["Key"].rsplit("/", 1)[1]: o["ETag"] for o in page.get("Contents", [])}


def read_snapshot(s3, export_date: str):
    bucket = settings().data_lake_bucket
    parts = [k for k in snapshot_objects(s3, export_date) if k.endswith(".parquet")]
    tables = [pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=f"{snapshot_key(export_date)}/{k}")
                                       ["Body"].read())) for k in parts]
    import pyarrow as pa

    return pa.concat_tables(tables)


def asset_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return [e.extra for e in session.query(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .filter(AssetModel.name == "ratings_ml_training")]


def test_export_writes_snapshot_manifest_marker_and_asset_event(export_run, source, s3, pg_conn) -> None:
    # GIVEN the sample source WHEN the DAG runs for a date (the session's export run)
    day, (state, tasks, results) = export_run.export_date, export_run[1:]
    # THEN every task succeeded and the snapshot has every rated purchase once, in the contract's columns
    assert state == "success", tasks
    objects = snapshot_objects(s3, day)
    assert {"_manifest.json", "_SUCCESS"} <= set(objects)
    table = read_snapshot(s3, day)
    assert table.num_rows == joined_count(source) == results["validate_snapshot"]["row_count"]
    assert table.column_names[-1] == "productRating" and "creditLimit" in table.column_names
    assert str(table.schema.field("creditLimit").type) == "decimal128(10, 2)"
    customers = table.column("customerNumber").to_pylist()
    assert customers == sorted(customers)  # each customer's rows together: Parquet encodes them compactly
    manifest = json.loads(s3.get_object(Bucket=settings().data_lake_bucket,
                                        Key=f"{snapshot_key(day)}/_manifest.json")["Body"].read())
    assert manifest["quality"]["passed"] and manifest["source_row_counts"]["joined"] == table.num_rows
    assert {"uri": results["validate_snapshot"]["uri"], "row_count": table.num_rows,
            "export_date": day} in asset_events()
    # AND the popular-products fallback is refreshed: the table and its S3 copy for cold starts, same ranking
    popular = results["refresh_popular_products"]
    assert popular["as_of"] == day and popular["rows"] > 0
    bucket, key = popular["copy"].removeprefix("s3://").split("/", 1)
    copy = PopularProductsCopy.model_validate_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert copy.as_of.isoformat() == day
    assert copy.by_country["France"][:5] == popular_products.top(pg_conn, "France", k=5)


def test_rerun_replaces_that_date_only(run_dag, export_run, source, s3) -> None:
    other = snapshot_objects(s3, export_run.export_date)
    assert run_dag(DAG, {"export_date": "2026-01-19"})[0] == "success"
    before = read_snapshot(s3, "2026-01-19").num_rows
    source.cursor().execute("DELETE FROM ratings ORDER BY customerNumber, productCode LIMIT 10")
    # WHEN the same date is exported again, from a source with 10 ratings fewer
    state, _, results = run_dag(DAG, {"export_date": "2026-01-19"})
    # THEN the snapshot holds the new export alone (no rows of the first run left), the other date is untouched
    assert state == "success"
    assert read_snapshot(s3, "2026-01-19").num_rows == results["validate_snapshot"]["row_count"] == \
        joined_count(source) == before - 10
    assert snapshot_objects(s3, export_run.export_date) == other


@pytest.mark.parametrize(("ddl", "message"), [
    ("ALTER TABLE customers DROP COLUMN creditLimit", "customers.creditLimit: missing, expected decimal(10,2)"),
    ("ALTER TABLE ratings MODIFY productRating VARCHAR(5) NOT NULL",
     "ratings.productRating: type changed, expected int, found varchar(5)"),
    ("ALTER TABLE products CHANGE productScale scale VARCHAR(10) NOT NULL", "products.productScale: missing"),
])
def test_schema_drift_stops_the_run_before_export_and_alerts(
        run_dag, task_tries, source, s3, alerts, ddl, message) -> None:
    source.cursor().execute(ddl)
    state, tasks, _ = run_dag(DAG, {"export_date": "2026-02-02"})
    assert state == "failed"
    assert tasks["check_source_schema"] == "failed"
    assert task_tries(DAG)["check_source_schema"] == 1  # deterministic: never retried
    assert tasks["run_export_job"] == "upstream_failed"
    assert snapshot_objects(s3, "2026-02-02") == {}
    sent = alerts()
    assert any("check_source_schema" in m and message in m for m in sent), (message, [repr(m) for m in sent])


def test_new_column_is_reported_and_does_not_fail(run_dag, source) -> None:
    source.cursor().execute("ALTER TABLE customers ADD COLUMN loyaltyTier VARCHAR(20) NULL")
    state, tasks, results = run_dag(DAG, {"export_date": "2026-02-09"})
    assert state == "success", tasks
    assert results["check_source_schema"]["new_columns"] == {"customers": ["loyaltyTier"]}
    assert results["validate_snapshot"]["new_source_columns"] == {"customers": ["loyaltyTier"]}


def test_out_of_range_rating_gets_no_marker_and_no_asset_event(run_dag, task_tries, source, s3, alerts) -> None:
    source.cursor().execute("UPDATE ratings SET productRating = 7 ORDER BY customerNumber LIMIT 1")
    before = len(asset_events())
    state, tasks, _ = run_dag(DAG, {"export_date": "2026-02-16"})
    assert state == "failed" and tasks["run_export_job"] == "success"
    assert tasks["validate_snapshot"] == "failed"
    assert task_tries(DAG)["validate_snapshot"] == 1
    objects = snapshot_objects(s3, "2026-02-16")
    assert "_manifest.json" in objects and "_SUCCESS" not in objects
    assert len(asset_events()) == before
    assert any('ColumnValues "productRating" between 1 and 5 (1 rows out of range' in m for m in alerts())
