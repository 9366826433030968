-- Purpose: what readers see right now: rows and dimension of the live version's own tables (readers query them
--          directly, see dataplatform.serving.live), and one product code to probe a similar-items query with
--          (post-swap check). Reads the tables, not the views: it takes no lock a swap would wait for.
-- Parameters: {item_table}, {user_table} (identifiers of the live version's tables).
-- Caller: dataplatform.vectordb.store.verify_live (embeddings_load DAG, verify_live_model).
SELECT (SELECT count(*) FROM {user_table}) AS users,
       (SELECT vector_dims(embedding) FROM {user_table} LIMIT 1) AS user_dimension,
       (SELECT count(*) FROM {item_table}) AS items,
       (SELECT vector_dims(embedding) FROM {item_table} LIMIT 1) AS item_dimension,
       (SELECT product_code FROM {item_table} LIMIT 1) AS probe
