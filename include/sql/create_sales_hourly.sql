-- Purpose: the sales dashboard's table: one row per hour x country x product line of order time (UTC). Idempotent.
--          last_event_at is the newest order time in the row: max(last_event_at) is the dashboard's freshness.
-- Parameters: none.
-- Caller: dataplatform.freshness.sales_table.ensure_tables (dashboard_sales_refresh, create_sales_stage).
CREATE TABLE IF NOT EXISTS analytics.sales_hourly (
    order_hour    timestamptz   NOT NULL,
    country       text          NOT NULL,
    product_line  text          NOT NULL,
    orders        integer       NOT NULL CHECK (orders > 0),
    units         bigint        NOT NULL,
    revenue       numeric(14,2) NOT NULL,
    last_event_at timestamptz   NOT NULL,
    refreshed_at  timestamptz   NOT NULL DEFAULT clock_timestamp(),  -- when the row's values last changed
    PRIMARY KEY (order_hour, country, product_line)
)
