-- Purpose: a check's history newest first (the alert state and the latest verdicts read it). Idempotent.
-- Parameters: none.
-- Caller: dataplatform.freshness.verdict_store.ensure_table (pipeline_watchdog, create_verdict_table).
CREATE INDEX IF NOT EXISTS watchdog_verdicts_check_time ON analytics.watchdog_verdicts (check_name, evaluated_at DESC)
