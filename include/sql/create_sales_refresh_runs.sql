-- Purpose: one row per published dashboard refresh: its window, what it read and changed, and the freshness it
--          achieved (published_at minus the newest order time in the dashboard). The incremental watermark is read
--          from here. Idempotent.
-- Parameters: none.
-- Caller: dataplatform.freshness.sales_table.ensure_tables (dashboard_sales_refresh, create_sales_stage).
CREATE TABLE IF NOT EXISTS analytics.sales_refresh_runs (
    id                bigserial   PRIMARY KEY,
    run_id            text        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('initial', 'incremental', 'backfill')),
    window_since      timestamptz,
    window_until      timestamptz,
    lines             integer     NOT NULL,
    groups            integer     NOT NULL,
    inserted          integer     NOT NULL,
    updated           integer     NOT NULL,
    deleted           integer     NOT NULL,
    read_newest_at    timestamptz,          -- the newest order time this run read (the next watermark)
    newest_event_at   timestamptz,          -- the newest order time in the dashboard after this run
    published_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    freshness_seconds double precision
)
