-- Purpose: point the views kept for people and dashboards at one version's tables. Runs inside the swap
--          transaction, so a query of the views sees the old version or the new one, never none. The online
--          readers (dataplatform.serving.live) do not use the views: they resolve the live version from
--          model_versions and read its tables, so this DDL never makes a request wait. DROP + CREATE, not
--          CREATE OR REPLACE: the dimension (the column's typmod) may change between versions. The views expose
--          `embedding` without a typmod (`::vector`) so their row type is the same for every dimension: a
--          prepared statement over them is re-planned after a swap instead of failing with "cached plan must
--          not change result type". The planner still matches the HNSW index through the cast (a relabel).
--          Order: user_embeddings, then item_embeddings (a fixed order: two swaps never deadlock on the views).
-- Parameters: {item_table}, {user_table} (identifiers).
-- Caller: dataplatform.vectordb.store.swap_live, dataplatform.vectordb.store.rollback.
DROP VIEW IF EXISTS user_embeddings;
DROP VIEW IF EXISTS item_embeddings;
CREATE VIEW user_embeddings AS SELECT customer_number, embedding::vector AS embedding FROM {user_table};
CREATE VIEW item_embeddings AS SELECT product_code, embedding::vector AS embedding FROM {item_table};
