-- Purpose: every model version the store knows, newest load first (a short table: one row per model release).
-- Parameters: none.
-- Caller: dataplatform.vector_store (versions, live_version, swap_live, rollback, prune, load_version).
SELECT version, slug, dimension, item_count, user_count, source_uris, metrics, timings, loaded_at, is_live,
       went_live_at, pruned_at
FROM model_versions
ORDER BY loaded_at DESC, version DESC
