-- Purpose: the watchdog's verdict history: one row per check per run (status, value, threshold, the alert it sent).
--          The alert state (is a breach open, when was it last alerted) is read back from here, so alerts neither
--          repeat every 5 minutes nor go silent across runs, workers or restarts. Idempotent.
-- Parameters: none.
-- Caller: dataplatform.freshness.verdict_store.ensure_table (pipeline_watchdog, create_verdict_table).
CREATE TABLE IF NOT EXISTS analytics.watchdog_verdicts (
    id              bigserial        PRIMARY KEY,
    run_id          text             NOT NULL,
    check_name      text             NOT NULL,
    evaluated_at    timestamptz      NOT NULL,
    status          text             NOT NULL CHECK (status IN ('ok', 'breach', 'idle')),
    value           double precision,
    threshold       double precision NOT NULL,
    comparison      text             NOT NULL CHECK (comparison IN ('above', 'below')),
    unit            text             NOT NULL,
    detail          text             NOT NULL,
    alert           text             CHECK (alert IN ('breach', 'reminder', 'recovery')),
    breaching_since timestamptz
)
