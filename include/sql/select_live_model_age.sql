-- Purpose: the live model version and how long it has been live (seconds), for the watchdog's live_model_age check.
-- Parameters: none. No row: no version is live.
-- Caller: dataplatform.freshness.measurements.live_model_age (pipeline_watchdog, check_live_model_age).
SELECT version, went_live_at, EXTRACT(EPOCH FROM clock_timestamp() - went_live_at) AS age_seconds
FROM model_versions
WHERE is_live
