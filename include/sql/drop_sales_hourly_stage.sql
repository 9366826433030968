-- Purpose: drop the stage table at the end of a run (teardown, whatever the run's outcome).
-- Parameters: none.
-- Caller: dataplatform.freshness.sales_table.drop_stage (dashboard_sales_refresh, drop_sales_stage).
DROP TABLE IF EXISTS analytics.sales_hourly_stage
