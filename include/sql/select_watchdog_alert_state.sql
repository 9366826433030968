-- Purpose: a check's alert state from its history: the start of its open breach (the first breach after its last
--          ok; NULL when not breaching) and the last breach or reminder alert within that breach. Idle verdicts
--          neither open nor close a breach.
-- Parameters: %(check)s check name.
-- Caller: dataplatform.freshness.verdict_store.alert_state (pipeline_watchdog, check_<name>).
SELECT MIN(v.evaluated_at) AS breaching_since,
       MAX(v.evaluated_at) FILTER (WHERE v.alert IN ('breach', 'reminder')) AS last_alert_at
FROM analytics.watchdog_verdicts v
WHERE v.check_name = %(check)s
  AND v.status = 'breach'
  AND v.evaluated_at > COALESCE((SELECT MAX(ok.evaluated_at) FROM analytics.watchdog_verdicts ok
                                 WHERE ok.check_name = %(check)s AND ok.status = 'ok'), '-infinity')
