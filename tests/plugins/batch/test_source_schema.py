"""The schema contract against live-column descriptions (pure logic; the DAG tests run it on MariaDB)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from dataplatform.batch.source_schema import Contract, LiveColumn, SchemaDriftError, check, compare, normalise_type
from dataplatform.batch.training_export import load_contract
from dataplatform.paths import include_dir

CONTRACT = load_contract()
CONTRACT_PATH = include_dir() / "contracts" / "training_source.yaml"


def live_from_contract() -> list[LiveColumn]:
    return [
        LiveColumn(table=t.name, name=c.name, column_type=c.type, nullable=c.nullable, primary_key=c.name in t.key)
        for t in CONTRACT.tables for c in t.columns
    ]


def test_matching_source_passes_with_no_new_columns() -> None:
    report = check(CONTRACT, live_from_contract())
    assert report.errors == [] and report.new_columns == {}


def test_int_display_width_is_not_a_type_change() -> None:
    assert normalise_type("int(11)") == "int" and normalise_type("smallint(6)") == "smallint"
    assert normalise_type("decimal(10, 2)") == "decimal(10,2)"


def test_dropped_column_names_table_column_and_expected_type() -> None:
    live = [c for c in live_from_contract() if (c.table, c.name) != ("customers", "creditLimit")]
    with pytest.raises(SchemaDriftError, match=r"customers\.creditLimit: missing, expected decimal\(10,2\)"):
        check(CONTRACT, live)


def test_renamed_column_is_reported_with_a_hint() -> None:
    live = [replace(c, name="CITY") if c.name == "city" else c for c in live_from_contract()]
    assert "found 'CITY': renamed?" in compare(CONTRACT, live).errors[0]


def test_retyped_column_names_expected_and_found() -> None:
    live = [replace(c, column_type="varchar(20)") if c.name == "productRating" else c for c in live_from_contract()]
    assert compare(CONTRACT, live).errors == [
        "ratings.productRating: type changed, expected int, found varchar(20)"
    ]


def test_key_column_becoming_nullable_fails() -> None:
    live = [replace(c, nullable=True) if c.name == "productLine" else c for c in live_from_contract()]
    assert compare(CONTRACT, live).errors == ["products.productLine: expected NOT NULL, found NULL allowed"]


def test_new_column_is_listed_not_failed_and_ignored_columns_are_not_new() -> None:
    live = [*live_from_contract(),
            LiveColumn("customers", "loyaltyTier", "varchar(20)", True, False),
            LiveColumn("customers", "phone", "varchar(50)", False, False)]
    report = check(CONTRACT, live)
    assert report.new_columns == {"customers": ["loyaltyTier"]}


def test_a_new_feature_is_one_contract_line(tmp_path) -> None:
    text = CONTRACT_PATH.read_text().replace(
        "      creditLimit: {", "      loyaltyTier: {type: varchar(20), nullable: true, feature: true}\n"
        "      creditLimit: {")
    (tmp_path / "c.yaml").write_text(text)
    contract = Contract.load(tmp_path / "c.yaml")
    assert "loyaltyTier" in contract.output_columns
    assert "loyaltyTier" in json.loads(contract.job_argument())["user_features"]


def test_output_columns_are_the_specs_training_set() -> None:
    assert CONTRACT.output_columns == [
        "customerNumber", "city", "state", "postalCode", "country", "creditLimit",
        "productCode", "productLine", "productScale", "quantityInStock", "buyPrice", "MSRP", "productRating",
    ]



