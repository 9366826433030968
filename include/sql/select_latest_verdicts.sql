-- Purpose: the newest verdict of every check (the watchdog run's summary, the demo's summary).
-- Parameters: none.
-- Caller: dataplatform.freshness.verdict_store.latest (pipeline_watchdog, summarize_verdicts; devstack demo).
SELECT DISTINCT ON (check_name)
       check_name, status, value, threshold, comparison, unit, detail, alert, breaching_since, evaluated_at, run_id
FROM analytics.watchdog_verdicts
ORDER BY check_name, evaluated_at DESC, id DESC
