-- Purpose: the dashboard's freshness: its newest aggregated order time and the database's clock (NULL newest: no
--          data at all).
-- Parameters: none.
-- Caller: dataplatform.freshness.sales_table.dashboard_freshness (pipeline_watchdog check_dashboard_freshness; the
--         demo's summary).
SELECT MAX(last_event_at) AS newest_event_at, clock_timestamp() AS now FROM analytics.sales_hourly
