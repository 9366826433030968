-- Purpose: the stage table of one refresh (write, audit, publish): the window's aggregate lands here, the
--          common-sql checks read it, and only then is it published into analytics.sales_hourly. UNLOGGED (it is
--          rebuilt by every run), no constraints (the checks report what is wrong instead of a COPY failing on the
--          first bad row). One refresh runs at a time (max_active_runs=1), so one table serves every run.
-- Parameters: none.
-- Caller: dataplatform.freshness.sales_table.ensure_tables (dashboard_sales_refresh, create_sales_stage).
CREATE UNLOGGED TABLE IF NOT EXISTS analytics.sales_hourly_stage (
    order_hour    timestamptz,
    country       text,
    product_line  text,
    orders        integer,
    units         bigint,
    revenue       numeric(14,2),
    last_event_at timestamptz
)
