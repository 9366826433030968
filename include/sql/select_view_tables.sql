-- Purpose: which tables the views for people and dashboards (item_embeddings, user_embeddings) read, from the
--          catalogue (no lock on the views), to check they follow the live version.
-- Parameters: none.
-- Caller: dataplatform.vectordb.store.verify_live (embeddings_load DAG, verify_live_model).
SELECT view_name, table_name
FROM information_schema.view_table_usage
WHERE view_schema = current_schema() AND view_name IN ('item_embeddings', 'user_embeddings')
