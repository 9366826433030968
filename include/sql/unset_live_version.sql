-- Purpose: first half of the live flag's move (swap transaction): the current live version stops being live and
--          records when (retired_at, wall clock: prune keeps its tables until readers' caches have moved on).
--          Two statements, not one UPDATE of both rows: the unique index model_versions_one_live is checked row
--          by row, so setting the new row first would conflict with the old one.
-- Parameters: %(version)s text, the version going live.
-- Caller: dataplatform.vectordb.store.swap_live, dataplatform.vectordb.store.rollback.
UPDATE model_versions SET is_live = false, retired_at = clock_timestamp() WHERE is_live AND version <> %(version)s
