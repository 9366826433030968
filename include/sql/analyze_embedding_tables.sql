-- Purpose: planner statistics for one version's freshly loaded tables (the last step of a load).
-- Parameters: {item_table}, {user_table}, {neighbours_table}, {top_items_table} (identifiers).
-- Caller: dataplatform.vector_store.load_version.
ANALYZE {item_table}, {user_table}, {neighbours_table}, {top_items_table}
