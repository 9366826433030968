-- Purpose: empty the stage table before a run writes its window (a run that failed earlier may have left rows).
-- Parameters: none.
-- Caller: dataplatform.freshness.sales_table.ensure_tables, write_stage (dashboard_sales_refresh).
TRUNCATE analytics.sales_hourly_stage
