"""The training export's checks before and after the Glue job (plain Python; connections are passed in)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from dataplatform.batch.source_schema import Contract, LiveColumn, SchemaReport, check
from dataplatform.handoffs import HandoffError, Snapshot, SnapshotManifest
from dataplatform.paths import include_dir, sql_path
from dataplatform.s3 import list_keys

if TYPE_CHECKING:
    import pyarrow as pa

SNAPSHOT_ROOT = "ratings_ml_training"
MANIFEST, MARKER = "_manifest.json", "_SUCCESS"


def load_contract() -> Contract:
    return Contract.load(include_dir() / "contracts" / "training_source.yaml")


def live_columns(conn: Any, database: str, tables: list[str]) -> list[LiveColumn]:
    cur = conn.cursor()
    cur.execute(sql_path("select_source_columns.sql").read_text(), {"database": database, "tables": tuple(tables)})
    return [LiveColumn(table=r[0], name=r[1], column_type=r[2], nullable=bool(r[3]), primary_key=bool(r[4]))
            for r in cur.fetchall()]


def check_source_schema(conn: Any, database: str) -> SchemaReport:
    """Raises SchemaDriftError naming table, column, expected and found; returns the new columns otherwise."""
    contract = load_contract()
    return check(contract, live_columns(conn, database, [t.name for t in contract.tables]))


def snapshot_key(export_date: str) -> str:
    return f"{SNAPSHOT_ROOT}/export_date={export_date}"


class DataQualityError(RuntimeError):
    """The snapshot failed its data-quality rules: it has no success marker and must not be trained on."""


def read_manifest(s3: Any, bucket: str, export_date: str) -> SnapshotManifest:
    key = f"{snapshot_key(export_date)}/{MANIFEST}"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey as exc:
        raise DataQualityError(f"s3://{bucket}/{key} missing: the export did not finish") from exc
    try:
        return SnapshotManifest.from_payload(body, source=f"s3://{bucket}/{key}")
    except HandoffError as exc:
        raise DataQualityError(str(exc)) from exc


def validate_snapshot(s3: Any, bucket: str, export_date: str) -> Snapshot:
    """The gate: the manifest exists and is well-formed, every rule passed, and the success marker is there."""
    prefix = snapshot_key(export_date)
    manifest = read_manifest(s3, bucket, export_date)
    if manifest.quality.failed or not manifest.quality.passed:
        failed = "; ".join(f"{r.rule} ({r.detail})" for r in manifest.quality.failed) or "marked failed"
        raise DataQualityError(f"snapshot s3://{bucket}/{prefix}/ failed data quality: {failed}")
    if manifest.export_date != export_date:
        raise DataQualityError(f"s3://{bucket}/{prefix}/{MANIFEST} is for {manifest.export_date}, not {export_date}")
    try:
        s3.head_object(Bucket=bucket, Key=f"{prefix}/{MARKER}")
    except s3.exceptions.ClientError as exc:
        raise DataQualityError(f"s3://{bucket}/{prefix}/{MARKER} missing although all rules passed") from exc
    return Snapshot(uri=f"s3://{bucket}/{prefix}/", export_date=export_date, row_count=manifest.row_count,
                    source_row_counts=manifest.source_row_counts, code_version=manifest.code_version)


def read_snapshot_table(s3: Any, bucket: str, export_date: str) -> pa.Table:
    """A validated snapshot's rows (the gate is checked again: never train on a failed snapshot)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    validate_snapshot(s3, bucket, export_date)
    keys = sorted(k for k in list_keys(s3, bucket, snapshot_key(export_date) + "/") if k.endswith(".parquet"))
    return pa.concat_tables(
        [pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())) for k in keys]
    )
