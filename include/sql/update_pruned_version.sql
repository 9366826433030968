-- Purpose: mark a version whose tables were dropped; its row stays as history (source files, metrics).
-- Parameters: %(version)s text.
-- Caller: dataplatform.vector_store.prune.
UPDATE model_versions SET pruned_at = now() WHERE version = %(version)s AND NOT is_live
