-- Purpose: record one check's verdict (after its alert, if any, was published).
-- Parameters: %(run_id)s, %(check)s, %(evaluated_at)s, %(status)s, %(value)s, %(threshold)s, %(comparison)s,
--             %(unit)s, %(detail)s, %(alert)s, %(breaching_since)s.
-- Caller: dataplatform.freshness.verdict_store.record (pipeline_watchdog, check_<name>).
INSERT INTO analytics.watchdog_verdicts (run_id, check_name, evaluated_at, status, value, threshold, comparison, unit,
                                         detail, alert, breaching_since)
VALUES (%(run_id)s, %(check)s, %(evaluated_at)s, %(status)s, %(value)s, %(threshold)s, %(comparison)s, %(unit)s,
        %(detail)s, %(alert)s, %(breaching_since)s)
