-- Purpose: the incremental watermark: the newest order time any published initial or incremental refresh read.
--          Backfills do not move it. NULL before the first refresh.
-- Parameters: none.
-- Caller: dataplatform.freshness.sales_table.watermark (dashboard_sales_refresh, plan_refresh_window).
SELECT MAX(read_newest_at) FROM analytics.sales_refresh_runs WHERE kind IN ('initial', 'incremental')
