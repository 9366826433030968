-- Purpose: publish the staged window: insert new groups, update groups whose values changed, leave identical ones
--          untouched (so a rerun of the same window changes nothing, refreshed_at included). Returns one row per
--          inserted or updated group, `inserted` telling which.
-- Parameters: none (reads analytics.sales_hourly_stage).
-- Caller: dataplatform.freshness.sales_table.publish (dashboard_sales_refresh, publish_sales_window), in the same
--         transaction as delete_vanished_sales_hours.sql.
INSERT INTO analytics.sales_hourly AS t (order_hour, country, product_line, orders, units, revenue, last_event_at)
SELECT order_hour, country, product_line, orders, units, revenue, last_event_at FROM analytics.sales_hourly_stage
ON CONFLICT (order_hour, country, product_line) DO UPDATE
SET orders = excluded.orders, units = excluded.units, revenue = excluded.revenue,
    last_event_at = excluded.last_event_at, refreshed_at = clock_timestamp()
WHERE (t.orders, t.units, t.revenue, t.last_event_at)
      IS DISTINCT FROM (excluded.orders, excluded.units, excluded.revenue, excluded.last_event_at)
RETURNING (xmax = 0) AS inserted
