"""The sales dashboard's contract against a real MariaDB source, before and after the announced change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from dataplatform.batch.source_schema import SchemaDriftError
from dataplatform.freshness.sales_extract import check_source_schema, load_contract

DATABASE = "sales_contract_test"
pytestmark = pytest.mark.stack


@pytest.fixture
def replica(source_db_admin: dict, stack_connections) -> Iterator[Any]:
    """`seed(order_timestamps)` loads the sample source into DATABASE; the connection reads it."""
    from devstack.seed import seed_source

    conn = stack_connections.source_admin()

    def seed(order_timestamps: bool) -> Any:
        seed_source(**source_db_admin, database=DATABASE, scale="sample", as_of=date(2026, 6, 30),
                    order_timestamps=order_timestamps)
        return conn

    yield seed
    conn.cursor().execute(f"DROP DATABASE IF EXISTS `{DATABASE}`")
    conn.close()


def test_a_source_without_order_timestamp_names_the_column_and_the_announcement(replica) -> None:
    conn = replica(order_timestamps=False)

    with pytest.raises(SchemaDriftError) as failure:
        check_source_schema(conn, DATABASE)

    message = str(failure.value)
    assert message.startswith("source schema drifted from include/contracts/sales_source.yaml:")
    assert "orders.orderTimestamp: missing, expected datetime; not on the source yet: this pipeline waits for " \
           "the platform team's announced additive change \"orders.orderTimestamp\"" in message
    assert message.count("\n") == 1  # that is the only problem


def test_the_announced_change_satisfies_the_contract(replica) -> None:
    report = check_source_schema(replica(order_timestamps=True), DATABASE)

    assert report.errors == [] and report.new_columns == {}


def test_the_contract_reads_only_what_the_dashboard_needs() -> None:
    tables = {t.name: [c.name for c in t.columns] for t in load_contract().tables}
    assert tables == {
        "orders": ["orderNumber", "orderTimestamp", "customerNumber"],
        "orderdetails": ["orderNumber", "productCode", "quantityOrdered", "priceEach"],
        "customers": ["customerNumber", "country"],
        "products": ["productCode", "productLine"],
    }
