-- Purpose: record a published refresh with the freshness it achieved: the dashboard's newest order time and
--          published_at minus it, measured in the publishing transaction.
-- Parameters: %(run_id)s, %(kind)s, %(since)s, %(until)s, %(lines)s, %(groups)s, %(inserted)s, %(updated)s,
--             %(deleted)s, %(read_newest_at)s.
-- Caller: dataplatform.freshness.sales_table.publish (dashboard_sales_refresh, publish_sales_window).
INSERT INTO analytics.sales_refresh_runs (run_id, kind, window_since, window_until, lines, groups, inserted, updated,
                                         deleted, read_newest_at, newest_event_at, freshness_seconds)
SELECT %(run_id)s::text, %(kind)s::text, %(since)s::timestamptz, %(until)s::timestamptz, %(lines)s::integer,
       %(groups)s::integer, %(inserted)s::integer, %(updated)s::integer, %(deleted)s::integer,
       %(read_newest_at)s::timestamptz, newest, EXTRACT(EPOCH FROM clock_timestamp() - newest)
FROM (SELECT MAX(last_event_at) AS newest FROM analytics.sales_hourly) AS dashboard
RETURNING newest_event_at, published_at, freshness_seconds
