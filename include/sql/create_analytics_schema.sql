-- Purpose: the `analytics` schema the dashboards query (sales aggregate, refresh runs, watchdog verdicts).
--          Run only when the schema is missing (dataplatform.freshness.sales_table.ensure_schema looks first): CREATE
--          SCHEMA checks the database's CREATE privilege even with IF NOT EXISTS, and a pipelines' role that does not
--          own the database may be given the schema by a DBA instead.
-- Parameters: none.
-- Caller: dataplatform.freshness.sales_table.ensure_schema (dashboard_sales_refresh create_sales_stage,
--         pipeline_watchdog create_verdict_table).
CREATE SCHEMA IF NOT EXISTS analytics
