-- Purpose: what readers see right now: rows and dimension behind the reader views, and one product code to
--          probe a similar-items query with (post-swap check). user_embeddings is named before item_embeddings:
--          the order the swap locks them in (see replace_embedding_views.sql).
-- Parameters: none.
-- Caller: dataplatform.vector_store.verify_live (embeddings_load DAG, verify_live_model).
SELECT (SELECT count(*) FROM user_embeddings) AS users,
       (SELECT vector_dims(embedding) FROM user_embeddings LIMIT 1) AS user_dimension,
       (SELECT count(*) FROM item_embeddings) AS items,
       (SELECT vector_dims(embedding) FROM item_embeddings LIMIT 1) AS item_dimension,
       (SELECT product_code FROM item_embeddings LIMIT 1) AS probe
