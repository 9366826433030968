-- Purpose: the vector store's catalogue of model versions (at most one live). Idempotent, and takes no lock
--          readers could queue behind once the table exists: `retired_at` (added after the first release) is
--          added by ALTER TABLE only when it is missing (ALTER TABLE takes an ACCESS EXCLUSIVE lock even with
--          IF NOT EXISTS). The per-version tables (item_embeddings__<slug>, user_embeddings__<slug>) and the views
--          for people and dashboards (item_embeddings, user_embeddings) are created by dataplatform.vectordb.store:
--          their names depend on the version. Objects land in the first schema of the connection's search_path;
--          the `vector` extension is created once by a superuser (public schema), not here.
-- Parameters: none.
-- Caller: dataplatform.vectordb.store.ensure_schema (embeddings_load DAG, resolve_model_version).
CREATE TABLE IF NOT EXISTS model_versions (
    version      text        PRIMARY KEY,            -- as published, e.g. 20261123T140000Z-ab12cd
    slug         text        NOT NULL UNIQUE,        -- table-name suffix derived from version
    dimension    integer     NOT NULL CHECK (dimension > 0),
    item_count   integer     NOT NULL,
    user_count   integer     NOT NULL,
    source_uris  jsonb       NOT NULL DEFAULT '{}',  -- {"item_embeddings.csv": "s3://...", ...}
    metrics      jsonb,                              -- the model's evaluation, from its manifest
    timings      jsonb,                              -- load step durations in seconds
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    is_live      boolean     NOT NULL DEFAULT false,
    went_live_at timestamptz,                        -- the last time it went live (swap or rollback)
    retired_at   timestamptz,                        -- the last time it stopped being live; NULL while live
    pruned_at    timestamptz,                        -- its tables were dropped; the row is kept as history
    CONSTRAINT model_versions_pruned_not_live CHECK (NOT (is_live AND pruned_at IS NOT NULL))
);
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = 'model_versions'::regclass AND attname = 'retired_at' AND NOT attisdropped) THEN
        ALTER TABLE model_versions ADD COLUMN retired_at timestamptz;
    END IF;
END
$$;
CREATE UNIQUE INDEX IF NOT EXISTS model_versions_one_live ON model_versions (is_live) WHERE is_live;
