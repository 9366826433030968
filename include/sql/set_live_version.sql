-- Purpose: second half of the live flag's move (swap transaction): the version goes live. went_live_at is the
--          wall clock (not the transaction start), so it orders swaps as they commit; unchanged if already live.
-- Parameters: %(version)s text.
-- Caller: dataplatform.vectordb.store.swap_live, dataplatform.vectordb.store.rollback.
UPDATE model_versions
SET is_live = true, went_live_at = CASE WHEN is_live THEN went_live_at ELSE clock_timestamp() END, retired_at = NULL
WHERE version = %(version)s AND pruned_at IS NULL
