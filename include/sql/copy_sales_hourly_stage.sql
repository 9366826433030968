-- Purpose: bulk load the window's aggregate into the stage table (binary-free text COPY: a few hundred rows per
--          incremental run, ~0.5 M for a full recomputation at production scale).
-- Parameters: none (rows are streamed through COPY FROM STDIN).
-- Caller: dataplatform.freshness.sales_table.write_stage (dashboard_sales_refresh, stage_sales_window).
COPY analytics.sales_hourly_stage (order_hour, country, product_line, orders, units, revenue, last_event_at) FROM STDIN
