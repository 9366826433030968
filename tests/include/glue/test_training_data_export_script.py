"""The Glue script's transforms and quality rules on real local Spark (the same file Glue runs)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from decimal import Decimal

import pytest

from dataplatform.batch.training_export import load_contract
from dataplatform.paths import glue_script

pytestmark = pytest.mark.spark

spec = importlib.util.spec_from_file_location("training_data_export_job", glue_script("training_data_export.py"))
job = importlib.util.module_from_spec(spec)
spec.loader.exec_module(job)
CONTRACT = json.loads(load_contract().job_argument())


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers on this venv's Python, not PATH's
    session = (SparkSession.builder.master("local[2]").appName("tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate())
    yield session
    session.stop()


@pytest.fixture
def source(spark):
    """Customer 3 has no ratings, product P3 was never rated, customer 2 has a NULL state."""
    customers = spark.createDataFrame(
        [(1, "Madrid", None, "28001", "Spain", Decimal("227600.00")),
         (2, "NYC", None, "10022", "USA", Decimal("0.05")),
         (3, "Lyon", None, None, "France", None)],
        "customerNumber int, city string, state string, postalCode string, country string, "
        "creditLimit decimal(10,2)")
    products = spark.createDataFrame(
        [("P1", "Classic Cars", "1:18", 7933, Decimal("48.81"), Decimal("95.70")),
         ("P2", "Planes", "1:72", 0, Decimal("0.01"), Decimal("99999999.99")),
         ("P3", "Ships", "1:700", 10, Decimal("10.00"), Decimal("12.00"))],
        "productCode string, productLine string, productScale string, quantityInStock int, "
        "buyPrice decimal(10,2), MSRP decimal(10,2)")
    ratings = spark.createDataFrame([(1, "P1", 5), (1, "P2", 1), (2, "P1", 3)],
                                    "customerNumber int, productCode string, productRating int")
    return customers, products, ratings


def test_one_row_per_rating_with_features_in_contract_order(source) -> None:
    out = job.build_training_set(*source, CONTRACT)
    assert out.columns == CONTRACT["output_columns"]
    rows = {(r.customerNumber, r.productCode): r for r in out.collect()}
    assert set(rows) == {(1, "P1"), (1, "P2"), (2, "P1")}  # customer 3 and product P3 have no ratings


def test_null_state_is_kept_as_null(source) -> None:
    out = {(r.customerNumber, r.productCode): r for r in job.build_training_set(*source, CONTRACT).collect()}
    assert out[(2, "P1")].state is None and out[(2, "P1")].country == "USA"


def test_decimal_precision_is_kept(source) -> None:
    out = job.build_training_set(*source, CONTRACT)
    types = dict(out.dtypes)
    assert types["creditLimit"] == types["buyPrice"] == types["MSRP"] == "decimal(10,2)"
    row = out.where("customerNumber = 1 AND productCode = 'P2'").first()
    assert Decimal("99999999.99") == row.MSRP and row.buyPrice == Decimal("0.01")
    assert row.creditLimit == Decimal("227600.00")


def test_joined_source_count_ignores_orphan_ratings(spark, source) -> None:
    customers, products, ratings = source
    orphans = ratings.union(spark.createDataFrame([(99, "P1", 4), (1, "NOPE", 2)], ratings.schema))
    assert job.joined_source_count(customers, products, orphans, CONTRACT) == 3


def test_quality_rules_pass_on_a_clean_export(source) -> None:
    out = job.build_training_set(*source, CONTRACT)
    schema = [{"name": f.name, "type": f.dataType.simpleString()} for f in out.schema.fields]
    assert all(r["passed"] for r in job.evaluate_quality(out, CONTRACT, 3, schema))


def test_out_of_range_rating_fails_the_gate(spark, source) -> None:
    customers, products, ratings = source
    bad = ratings.union(spark.createDataFrame([(2, "P2", 7)], ratings.schema))
    out = job.build_training_set(customers, products, bad, CONTRACT)
    schema = [{"name": f.name, "type": f.dataType.simpleString()} for f in out.schema.fields]
    failed = {r["rule"]: r["detail"] for r in job.evaluate_quality(out, CONTRACT, 4, schema) if not r["passed"]}
    assert failed == {'ColumnValues "productRating" between 1 and 5': "1 rows out of range or null"}


def test_duplicates_lost_rows_and_schema_changes_fail_the_gate(source) -> None:
    out = job.build_training_set(*source, CONTRACT)
    schema = [{"name": f.name, "type": f.dataType.simpleString()} for f in out.schema.fields]
    doubled = out.union(out.limit(1))
    failed = {r["rule"] for r in job.evaluate_quality(doubled, CONTRACT, 3, schema[:-1]) if not r["passed"]}
    assert failed == {"RowCount = joined source count", "IsPrimaryKey 'customerNumber' 'productCode'",
                      "Schema = contract"}


def test_local_arguments_use_the_glue_convention() -> None:
    argv = ["script.py"]
    for name in job.ARGUMENTS:
        argv += [f"--{name}", f"v-{name}"]
    assert job.resolve_arguments(argv)["export_date"] == "v-export_date"
    with pytest.raises(SystemExit, match="missing job arguments"):
        job.resolve_arguments(["script.py", "--JOB_NAME", "x"])


def test_local_run_reads_the_glue_connection_as_glue_gives_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the Glue connection's fields as the local Glue endpoint passes them (extract_jdbc_conf's shape)
    monkeypatch.setenv(job.LOCAL_JDBC_CONF, json.dumps({
        "url": "jdbc:mysql://replica:3306", "fullUrl": "jdbc:mysql://replica:3306/other", "user": "ro",
        "password": "pw", "vendor": "mysql"}))
    args = {"connection_name": "reco-source", "source_database": "classicmodels",
            "jdbc_driver": "org.mariadb.jdbc.Driver"}

    options = job.jdbc_options(args, None)

    # THEN the database is the job argument's, whatever the connection's URL names
    assert options == {"url": "jdbc:mysql://replica:3306/classicmodels", "user": "ro", "password": "pw",
                       "driver": "org.mariadb.jdbc.Driver", "fetchsize": "10000"}


def test_local_run_without_the_glue_connection_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(job.LOCAL_JDBC_CONF, raising=False)
    with pytest.raises(SystemExit, match="local Glue endpoint"):
        job.jdbc_options({"connection_name": "c", "source_database": "d", "jdbc_driver": "x"}, None)
