-- Purpose: drop one version's tables (a non-live version being reloaded or pruned). No CASCADE: the live
--          version's tables are referenced by the reader views, so dropping them fails instead of breaking readers.
-- Parameters: {item_table}, {user_table}, {neighbours_table}, {top_items_table} (identifiers).
-- Caller: dataplatform.vector_store.load_version, dataplatform.vector_store.prune.
DROP TABLE IF EXISTS {item_table}, {user_table}, {neighbours_table}, {top_items_table}
