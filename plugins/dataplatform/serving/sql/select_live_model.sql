-- Purpose: the live model version readers query: the slug naming its tables (item_embeddings__<slug>,
--          user_embeddings__<slug>), its dimension and the files it came from (its user-feature model sits beside
--          them), and its item and user counts (whether its vectors fit in memory). Never waits: swaps, rollbacks and prunes lock model_versions in SHARE ROW EXCLUSIVE mode and
--          update rows, neither of which conflicts with this read (ACCESS SHARE, MVCC snapshot).
-- Parameters: none.
-- Caller: dataplatform.serving.live.live_model (cached per connection for LIVE_CACHE_SECONDS).
SELECT version, slug, dimension, source_uris, item_count, user_count
FROM model_versions
WHERE is_live
