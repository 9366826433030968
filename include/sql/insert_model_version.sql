-- Purpose: record a loaded (not yet live) model version. A reload of the same non-live version, or of a pruned
--          one, replaces its row; the live version is never overwritten (0 rows affected: the loader then fails).
-- Parameters: %(version)s, %(slug)s text; %(dimension)s, %(item_count)s, %(user_count)s integer;
--             %(source_uris)s, %(metrics)s, %(timings)s jsonb.
-- Caller: dataplatform.vector_store.load_version.
INSERT INTO model_versions AS v (version, slug, dimension, item_count, user_count, source_uris, metrics, timings)
VALUES (%(version)s, %(slug)s, %(dimension)s, %(item_count)s, %(user_count)s, %(source_uris)s, %(metrics)s,
        %(timings)s)
ON CONFLICT (version) DO UPDATE
SET slug = excluded.slug, dimension = excluded.dimension, item_count = excluded.item_count,
    user_count = excluded.user_count, source_uris = excluded.source_uris, metrics = excluded.metrics,
    timings = excluded.timings, loaded_at = now(), went_live_at = NULL, pruned_at = NULL
WHERE NOT v.is_live
