"""The sales dashboard's tables in PostgreSQL (schema `analytics`): stage, publish, refresh runs, freshness.

Write, audit, publish: a run writes its window's aggregate to `analytics.sales_hourly_stage`, the DAG's
common-sql checks read the stage, and `publish` then moves it into `analytics.sales_hourly` in one transaction:
changed groups upserted, groups the source no longer has within the window deleted, the run recorded with the
freshness it achieved. Dashboards see the previous window or the new one, never a half-published one, and a
window that fails a check is never published. Plain Python (psycopg 3 connections passed in).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dataplatform.freshness.models import RefreshRecord, StagedWindow
from dataplatform.paths import sql_path

if TYPE_CHECKING:
    import pandas as pd

SCHEMA = "analytics"
STAGE = "analytics.sales_hourly_stage"
TABLE = "analytics.sales_hourly"


def _sql(name: str) -> str:
    return sql_path(name).read_text()


def ensure_schema(pg: Any) -> None:
    """Create `analytics` if missing. Looks first: CREATE SCHEMA IF NOT EXISTS still needs the CREATE privilege on
    the database, which a role given an existing schema may not have."""
    if pg.execute("SELECT to_regnamespace(%s) IS NULL", (SCHEMA,)).fetchone()[0]:
        pg.execute(_sql("create_analytics_schema.sql"))


def ensure_tables(pg: Any) -> None:
    """The schema, the dashboard table, the refresh runs and an empty stage table; idempotent, one transaction."""
    with pg.transaction():
        ensure_schema(pg)
        for name in ("create_sales_hourly.sql", "create_sales_refresh_runs.sql", "create_sales_hourly_stage.sql",
                     "truncate_sales_hourly_stage.sql"):
            pg.execute(_sql(name))


def drop_stage(pg: Any) -> None:
    with pg.transaction():
        pg.execute(_sql("drop_sales_hourly_stage.sql"))


def watermark(pg: Any) -> datetime | None:
    """The newest order time read by a published initial or incremental refresh (None before the first)."""
    if pg.execute("SELECT to_regclass('analytics.sales_refresh_runs') IS NULL").fetchone()[0]:
        return None
    return pg.execute(_sql("select_sales_watermark.sql")).fetchone()[0]


def _utc(value: Any) -> datetime:
    return value.to_pydatetime().replace(tzinfo=UTC)


def write_stage(pg: Any, groups: pd.DataFrame) -> int:
    """Replace the stage's content with `groups` (`sales_aggregate.COLUMNS`); returns the rows written."""
    with pg.transaction():
        pg.execute(_sql("truncate_sales_hourly_stage.sql"))
        with pg.cursor().copy(_sql("copy_sales_hourly_stage.sql")) as copy:
            for hour, country, line, orders, units, cents, last in groups.itertuples(index=False, name=None):
                copy.write_row((_utc(hour), _text(country), _text(line), int(orders), int(units),
                                Decimal(int(cents)).scaleb(-2), _utc(last)))
    return len(groups)


def _text(value: Any) -> str | None:
    """A dimension value, or None for a missing one (pandas gives NaN or None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def publish(pg: Any, staged: StagedWindow, run_id: str) -> RefreshRecord:
    """Move the (checked) stage into the dashboard table and record the run, in one transaction."""
    window = staged.window
    with pg.transaction():
        changed = pg.execute(_sql("upsert_sales_hourly.sql")).fetchall()
        inserted = sum(1 for (is_new,) in changed if is_new)
        deleted = pg.execute(_sql("delete_vanished_sales_hours.sql"),
                             {"since": window.since, "until": window.until}).rowcount
        newest, published_at, freshness = pg.execute(_sql("insert_sales_refresh_run.sql"), {
            "run_id": run_id, "kind": window.kind, "since": window.since, "until": window.until,
            "lines": staged.lines, "groups": staged.groups, "inserted": inserted,
            "updated": len(changed) - inserted, "deleted": deleted, "read_newest_at": staged.newest_event_at,
        }).fetchone()
    return RefreshRecord(
        run_id=run_id, kind=window.kind, since=window.since, until=window.until, lines=staged.lines,
        groups=staged.groups, inserted=inserted, updated=len(changed) - inserted, deleted=deleted,
        newest_event_at=newest, published_at=published_at, freshness_seconds=freshness,
    )


def dashboard_freshness(pg: Any) -> tuple[datetime | None, datetime]:
    """(newest aggregated order time or None, the database's clock). No table yet reads as no data."""
    if pg.execute("SELECT to_regclass('analytics.sales_hourly') IS NULL").fetchone()[0]:
        return None, pg.execute("SELECT clock_timestamp()").fetchone()[0]
    newest, now = pg.execute(_sql("select_dashboard_freshness.sql")).fetchone()
    return newest, now
