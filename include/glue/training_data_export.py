"""AWS Glue 5.0 (Spark 3.5) job: export the weekly training set from the MySQL read replica to the data lake.

Reads `customers`, `products` and `ratings` over JDBC (parallel reads on the customer key), joins each rating
with its customer's and product's features, writes snappy Parquet to
`<output_path>/export_date=YYYY-MM-DD/`, evaluates the data-quality rules on what was written, then writes
`_manifest.json` and, only if every rule passed, the `_SUCCESS` marker, last. Rerunning a date replaces that
snapshot only. Columns come from the schema contract (`--contract`), never from this file.

Every input is a job argument; the source's JDBC URL and credentials come from the job's Glue connection
(`--connection_name`). Glue-only pieces are used when `awsglue` is importable. The devstack's local Glue
endpoint (`devstack/glue_local.py`) runs this same file on local PySpark: there it gets the Glue connection's
fields as JSON in `GLUE_LOCAL_JDBC_CONF` (what `GlueContext.extract_jdbc_conf` returns on Glue), writes to a
local folder the endpoint then copies to S3, and skips the Data Catalog update (logged). No job bookmarks:
every run is a full, consistent snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

ARGUMENTS = [
    "JOB_NAME", "connection_name", "jdbc_driver", "source_database", "output_path", "export_date",
    "contract", "run_id", "num_partitions", "catalog_database", "catalog_table",
]
MANIFEST, MARKER = "_manifest.json", "_SUCCESS"
LOCAL_JDBC_CONF = "GLUE_LOCAL_JDBC_CONF"

try:  # present on AWS Glue only
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
except ImportError:
    GlueContext = None


def log(message: str) -> None:
    print(f"[training_data_export] {message}", flush=True)


def resolve_arguments(argv: list[str]) -> dict[str, str]:
    if GlueContext is not None:
        return getResolvedOptions(argv, ARGUMENTS)
    args = {}
    for i, token in enumerate(argv):
        if token.startswith("--") and token[2:] in ARGUMENTS and i + 1 < len(argv):
            args[token[2:]] = argv[i + 1]
    missing = set(ARGUMENTS) - set(args)
    if missing:
        raise SystemExit(f"missing job arguments: {sorted(missing)}")
    return args


# --- pure transforms ---------------------------------------------------------------------------------------


def build_training_set(customers: DataFrame, products: DataFrame, ratings: DataFrame, contract: dict) -> DataFrame:
    """One row per rating, with its customer's and product's features; columns in contract order."""
    (customer_key,) = contract["tables"]["customers"]["key"]
    (product_key,) = contract["tables"]["products"]["key"]
    label = contract["label"]["name"]
    return (
        ratings.select(customer_key, product_key, label)
        .join(customers.select(*contract["user_features"]), customer_key, "inner")
        .join(products.select(*contract["product_features"]), product_key, "inner")
        .select(*contract["output_columns"])
    )


def joined_source_count(customers: DataFrame, products: DataFrame, ratings: DataFrame, contract: dict) -> int:
    """Ratings that have both their customer and their product: semi joins, so never more than `ratings`."""
    (customer_key,) = contract["tables"]["customers"]["key"]
    (product_key,) = contract["tables"]["products"]["key"]
    return (
        ratings.join(customers.select(customer_key), customer_key, "left_semi")
        .join(products.select(product_key), product_key, "left_semi")
        .count()
    )


def evaluate_quality(df: DataFrame, contract: dict, expected_rows: int, expected_schema: list[dict]) -> list[dict]:
    """The data-quality rules, each a dict(rule, passed, detail). Same rules on Glue and locally."""
    label = contract["label"]
    keys = [contract["tables"]["customers"]["key"][0], contract["tables"]["products"]["key"][0]]
    row = df.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(~F.col(label["name"]).between(label["min"], label["max"])
                     | F.col(label["name"]).isNull(), 1).otherwise(0)).alias("label_out_of_range"),
        *[F.sum(F.when(F.col(k).isNull(), 1).otherwise(0)).alias(f"null_{k}") for k in keys],
        F.countDistinct(*keys).alias("distinct_keys"),
    ).first()
    rows = row["rows"]
    schema = [{"name": f.name, "type": f.dataType.simpleString()} for f in df.schema.fields]
    return [
        {"rule": "RowCount = joined source count", "passed": rows == expected_rows,
         "detail": f"written {rows}, joined source {expected_rows}"},
        {"rule": f'ColumnValues "{label["name"]}" between {label["min"]} and {label["max"]}',
         "passed": (row["label_out_of_range"] or 0) == 0,
         "detail": f"{row['label_out_of_range'] or 0} rows out of range or null"},
        *[{"rule": f'IsComplete "{k}"', "passed": (row[f"null_{k}"] or 0) == 0,
           "detail": f"{row[f'null_{k}'] or 0} nulls"} for k in keys],
        {"rule": f"IsPrimaryKey {' '.join(repr(k) for k in keys)}", "passed": row["distinct_keys"] == rows,
         "detail": f"{rows - row['distinct_keys']} duplicate keys"},
        {"rule": "Schema = contract", "passed": schema == expected_schema,
         "detail": "" if schema == expected_schema else f"expected {expected_schema}, found {schema}"},
    ]


# --- I/O ---------------------------------------------------------------------------------------------------


def jdbc_options(args: dict[str, str], glue_context) -> dict[str, str]:
    """Spark JDBC options from the job's Glue connection: the database is `--source_database`."""
    if glue_context is not None:
        conf = glue_context.extract_jdbc_conf(args["connection_name"])
    else:
        if LOCAL_JDBC_CONF not in os.environ:
            raise SystemExit(f"not on Glue and {LOCAL_JDBC_CONF} is not set: run through the local Glue endpoint")
        log(f"local run: Glue connection {args['connection_name']} from {LOCAL_JDBC_CONF}")
        conf = json.loads(os.environ[LOCAL_JDBC_CONF])
    url = f"{conf['url'].rstrip('/')}/{args['source_database']}"
    return {"url": url, "user": conf["user"], "password": conf["password"], "driver": args["jdbc_driver"],
            "fetchsize": "10000"}


def read_source(spark: SparkSession, jdbc: dict, contract: dict, partitions: int) -> dict[str, DataFrame]:
    (customer_key,) = contract["tables"]["customers"]["key"]
    bounds = spark.read.format("jdbc").options(**jdbc).option(
        "query", f"SELECT MIN({customer_key}) AS lo, MAX({customer_key}) AS hi FROM customers"
    ).load().first()
    frames = {}
    for table, spec in contract["tables"].items():
        reader = spark.read.format("jdbc").options(**jdbc).option("dbtable", table)
        if customer_key in spec["columns"] and bounds["lo"] is not None and partitions > 1:
            reader = reader.options(partitionColumn=customer_key, lowerBound=str(bounds["lo"]),
                                    upperBound=str(bounds["hi"] + 1), numPartitions=str(partitions))
        # One read per table for the whole run: counts, export and checks all see the same rows.
        frames[table] = reader.load().select(*spec["columns"]).persist(StorageLevel.MEMORY_AND_DISK)
    return frames


def write_text(uri: str, text: str) -> None:
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        import boto3

        boto3.client("s3").put_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"), Body=text.encode())
    else:
        Path(parsed.path).write_text(text)


def delete(uri: str) -> None:
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        import boto3

        boto3.client("s3").delete_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
    else:
        Path(parsed.path).unlink(missing_ok=True)


def update_catalog(args: dict[str, str], schema: list[dict]) -> None:
    """Register the table and this snapshot's partition in the Glue Data Catalog (Glue only)."""
    import boto3

    glue = boto3.client("glue")
    root = args["output_path"].rstrip("/") + "/"
    storage = {
        "Columns": [{"Name": c["name"], "Type": c["type"]} for c in schema],
        "Location": root,
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
    }
    table = {"Name": args["catalog_table"], "TableType": "EXTERNAL_TABLE", "StorageDescriptor": storage,
             "PartitionKeys": [{"Name": "export_date", "Type": "string"}],
             "Parameters": {"classification": "parquet", "compressionType": "snappy"}}
    try:
        glue.create_table(DatabaseName=args["catalog_database"], TableInput=table)
    except glue.exceptions.AlreadyExistsException:
        glue.update_table(DatabaseName=args["catalog_database"], TableInput=table)
    partition = {"Values": [args["export_date"]],
                 "StorageDescriptor": {**storage, "Location": f"{root}export_date={args['export_date']}/"}}
    try:
        glue.create_partition(DatabaseName=args["catalog_database"], TableName=args["catalog_table"],
                              PartitionInput=partition)
    except glue.exceptions.AlreadyExistsException:
        glue.update_partition(DatabaseName=args["catalog_database"], TableName=args["catalog_table"],
                              PartitionValueList=[args["export_date"]], PartitionInput=partition)


# --- the job -----------------------------------------------------------------------------------------------


def export(spark: SparkSession, args: dict[str, str], jdbc: dict[str, str]) -> dict:
    contract = json.loads(args["contract"])
    snapshot = f"{args['output_path'].rstrip('/')}/export_date={args['export_date']}"
    frames = read_source(spark, jdbc, contract, int(args["num_partitions"]))
    training = build_training_set(frames["customers"], frames["products"], frames["ratings"], contract)
    expected_rows = joined_source_count(frames["customers"], frames["products"], frames["ratings"], contract)
    expected_schema = [{"name": f.name, "type": f.dataType.simpleString()} for f in training.schema.fields]

    delete(f"{snapshot}/{MARKER}")  # readers never see a marker beside data being replaced
    # Range-partitioned and sorted by the keys: each customer's rows stay together, so Parquet's dictionary and
    # run-length encodings compress the per-customer columns (a round-robin repartition scatters them).
    keys = [contract["tables"]["customers"]["key"][0], contract["tables"]["products"]["key"][0]]
    (training.repartitionByRange(max(1, expected_rows // 1_000_000 + 1), *keys).sortWithinPartitions(*keys)
     .write.mode("overwrite").option("compression", "snappy").parquet(snapshot))
    written = spark.read.parquet(snapshot)
    quality = evaluate_quality(written, contract, expected_rows, expected_schema)
    manifest = {
        "export_date": args["export_date"],
        "row_count": written.count(),
        "schema": expected_schema,
        "source_row_counts": {**{t: f.count() for t, f in frames.items()}, "joined": expected_rows},
        "run_id": args["run_id"],
        "job_name": args["JOB_NAME"],
        "code_version": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12],
        "spark_version": spark.version,
        "quality": {"passed": all(r["passed"] for r in quality), "rules": quality},
        "written_at": datetime.now(UTC).isoformat(),
    }
    write_text(f"{snapshot}/{MANIFEST}", json.dumps(manifest, indent=2))
    if manifest["quality"]["passed"]:
        write_text(f"{snapshot}/{MARKER}", json.dumps({"row_count": manifest["row_count"]}))
    else:
        log(f"data-quality rules failed, no {MARKER} written: "
            + "; ".join(f"{r['rule']}: {r['detail']}" for r in quality if not r["passed"]))
    return manifest


def main() -> None:
    args = resolve_arguments(sys.argv)
    spark = SparkSession.builder.appName(args["JOB_NAME"]).getOrCreate()
    spark.sparkContext._jsc.hadoopConfiguration().set("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
    glue_context = GlueContext(spark.sparkContext) if GlueContext is not None else None
    manifest = export(spark, args, jdbc_options(args, glue_context))
    if glue_context is not None and manifest["quality"]["passed"]:
        update_catalog(args, manifest["schema"])
    else:
        log("Glue Data Catalog update skipped (local run or failed quality)")
    log(f"wrote {manifest['row_count']} rows to {args['output_path']}/export_date={args['export_date']}, "
        f"quality passed: {manifest['quality']['passed']}")
    spark.stop()


if __name__ == "__main__":
    main()
