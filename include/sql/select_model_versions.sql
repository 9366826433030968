-- Purpose: every model version the store knows, newest load first (a short table: one row per model release),
--          with the database clock (`now`), against which prune measures how long ago a version was retired.
-- Parameters: none.
-- Caller: dataplatform.vectordb.store (versions, live_version, swap_live, rollback, prune, load_version).
SELECT version, slug, dimension, item_count, user_count, source_uris, metrics, timings, loaded_at, is_live,
       went_live_at, retired_at, pruned_at, clock_timestamp() AS now
FROM model_versions
ORDER BY loaded_at DESC, version DESC
