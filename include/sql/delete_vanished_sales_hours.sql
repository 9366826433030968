-- Purpose: publish the staged window, second half: groups of the window's hours that the source no longer has
--          (an order line moved to another product, an order deleted) leave the dashboard.
-- Parameters: %(since)s, %(until)s timestamptz bounds of the window (NULL: unbounded on that side).
-- Caller: dataplatform.freshness.sales_table.publish (dashboard_sales_refresh, publish_sales_window).
DELETE FROM analytics.sales_hourly t
WHERE (%(since)s::timestamptz IS NULL OR t.order_hour >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR t.order_hour < %(until)s::timestamptz)
  AND NOT EXISTS (SELECT 1 FROM analytics.sales_hourly_stage s
                  WHERE s.order_hour = t.order_hour AND s.country = t.country AND s.product_line = t.product_line)
