"""The sales dashboard's side of the MySQL read replica: its schema contract and the order lines it reads.

The contract (`include/contracts/sales_source.yaml`) is checked like the training export's; its
`orders.orderTimestamp` names the platform team's announced change, so a replica without it yet fails the run
with a message naming the column and the announcement. Order lines are read with the common-sql hook's `get_df`
(one statement per slice: each slice is one consistent read), in `[start, end)` slices of order time.
Plain Python: the hook (or, for the schema check, a connection) is passed in.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dataplatform.batch.source_schema import Contract, SchemaReport, check
from dataplatform.batch.training_export import live_columns
from dataplatform.paths import include_dir, sql_path

if TYPE_CHECKING:
    import pandas as pd

CONTRACT_FILE = "include/contracts/sales_source.yaml"
FAR_FUTURE = datetime(9999, 12, 31)
"""The upper bound of an open slice (MySQL DATETIME's range ends in 9999)."""


def load_contract() -> Contract:
    return Contract.load(include_dir() / "contracts" / "sales_source.yaml")


def check_source_schema(conn: Any, database: str) -> SchemaReport:
    """Raises SchemaDriftError naming table, column, expected and found (and, for a column that comes with an
    announced change, the announcement it waits for); returns the new columns otherwise."""
    contract = load_contract()
    return check(contract, live_columns(conn, database, [t.name for t in contract.tables]), CONTRACT_FILE)


def _naive_utc(at: datetime | None) -> datetime:
    """The replica stores order times as naive UTC DATETIMEs."""
    if at is None:
        return FAR_FUTURE
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _aware(at: Any) -> datetime | None:
    return None if at is None else at.replace(tzinfo=UTC)


def event_range(hook: Any) -> tuple[datetime | None, datetime | None]:
    """The first and last order time on the replica (UTC), None when there is no order with a time."""
    oldest, newest = hook.get_first(sql_path("select_sales_event_range.sql").read_text())
    return _aware(oldest), _aware(newest)


def fetch_lines(hook: Any, start: datetime, end: datetime | None) -> pd.DataFrame:
    """The order lines placed in `[start, end)` (end None: open), as a dataframe (columns of
    `select_sales_order_lines.sql`; `ordered_at` naive UTC)."""
    with warnings.catch_warnings():
        # pandas warns about any DB-API connection that is not SQLAlchemy's; MySQLdb works as documented by get_df
        warnings.filterwarnings("ignore", message="pandas only supports SQLAlchemy", category=UserWarning)
        return hook.get_df(sql_path("select_sales_order_lines.sql").read_text(),
                           parameters={"since": _naive_utc(start), "until": _naive_utc(end)})
