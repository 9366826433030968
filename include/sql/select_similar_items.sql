-- Purpose: "similar to what you browsed": the k items nearest to one item by cosine distance, itself excluded.
--          The item's vector comes from the same statement (one snapshot, one model version); the LATERAL
--          subquery is the k-NN scan `ORDER BY embedding <=> q.embedding LIMIT k`, served by the HNSW
--          vector_cosine_ops index. An unknown product returns no rows.
-- Parameters: %(product_code)s text, %(k)s integer (k + 1 <= hnsw.ef_search, which the caller raises if needed).
-- Caller: dataplatform.vector_store.similar_items (the inference Lambda).
WITH q AS (
    SELECT embedding FROM item_embeddings WHERE product_code = %(product_code)s
)
SELECT n.product_code, n.distance
FROM q CROSS JOIN LATERAL (
    SELECT product_code, embedding <=> q.embedding AS distance
    FROM item_embeddings
    WHERE product_code <> %(product_code)s
    ORDER BY embedding <=> q.embedding
    LIMIT %(k)s
) n
ORDER BY n.distance
