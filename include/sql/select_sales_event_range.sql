-- Purpose: the first and last order time on the replica (two index look-ups on orders.orderTimestamp), to cut an
--          open refresh window (initial run, incremental run) into slices.
-- Parameters: none.
-- Caller: dataplatform.freshness.sales_extract.event_range (dashboard_sales_refresh, stage_sales_window).
SELECT MIN(orderTimestamp) AS oldest, MAX(orderTimestamp) AS newest FROM orders
