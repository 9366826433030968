"""The watchdog's verdict history in PostgreSQL (`analytics.watchdog_verdicts`), and the alert state read back from
it. Plain Python (psycopg 3 connections passed in)."""

from __future__ import annotations

from typing import Any

from dataplatform.freshness.models import Verdict
from dataplatform.freshness.sales_table import ensure_schema
from dataplatform.freshness.verdicts import AlertState
from dataplatform.paths import sql_path


def _sql(name: str) -> str:
    return sql_path(name).read_text()


def ensure_table(pg: Any) -> None:
    with pg.transaction():
        ensure_schema(pg)
        pg.execute(_sql("create_watchdog_verdicts.sql"))
        pg.execute(_sql("create_watchdog_verdicts_index.sql"))


def alert_state(pg: Any, check: str) -> AlertState:
    since, last_alert = pg.execute(_sql("select_watchdog_alert_state.sql"), {"check": check}).fetchone()
    return AlertState(breaching_since=since, last_alert_at=last_alert)


def record(pg: Any, verdict: Verdict, run_id: str) -> None:
    with pg.transaction():
        pg.execute(_sql("insert_watchdog_verdict.sql"), {
            "run_id": run_id, "check": verdict.check, "evaluated_at": verdict.evaluated_at, "status": verdict.status,
            "value": verdict.value, "threshold": verdict.threshold, "comparison": verdict.comparison,
            "unit": verdict.unit, "detail": verdict.detail, "alert": verdict.alert,
            "breaching_since": verdict.breaching_since,
        })


def latest(pg: Any) -> list[tuple[str, Verdict]]:
    """(run id, verdict): the newest verdict of every check, by check name (empty before the first watchdog run)."""
    if pg.execute("SELECT to_regclass('analytics.watchdog_verdicts') IS NULL").fetchone()[0]:
        return []
    rows = pg.execute(_sql("select_latest_verdicts.sql")).fetchall()
    return [(r[10], Verdict(check=r[0], status=r[1], value=r[2], threshold=r[3], comparison=r[4], unit=r[5],
                            detail=r[6], alert=r[7], breaching_since=r[8], evaluated_at=r[9])) for r in rows]
