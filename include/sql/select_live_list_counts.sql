-- Purpose: the live version's neighbour lists as readers see them: one row per item and one per stored customer
--          (post-swap check). Plain counts of tables no one modifies: no lock a swap would wait for.
-- Parameters: {neighbours_table}, {top_items_table} (identifiers of the live version's tables).
-- Caller: dataplatform.vectordb.store.verify_live (embeddings_load DAG, verify_live_model).
SELECT (SELECT count(*) FROM {neighbours_table}) AS item_lists,
       (SELECT count(*) FROM {top_items_table}) AS user_lists
