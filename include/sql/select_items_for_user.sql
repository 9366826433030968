-- Purpose: "based on your profile" for a customer with a stored vector, in one statement: the user's vector and
--          the items come from the same snapshot, so from the same model version even during a swap (two
--          round trips could mix versions, or fail on a dimension change). Largest inner product first, served
--          by the HNSW vector_ip_ops index. An unknown customer returns no rows.
-- Parameters: %(customer_number)s integer, %(k)s integer, %(exclude)s text[] product codes to leave out
--             (k + len(exclude) <= hnsw.ef_search, raised by the caller).
-- Caller: dataplatform.vector_store.recommend_for_user (the inference Lambda).
WITH q AS (
    SELECT embedding FROM user_embeddings WHERE customer_number = %(customer_number)s
)
SELECT n.product_code, n.score
FROM q CROSS JOIN LATERAL (
    SELECT product_code, -(embedding <#> q.embedding) AS score
    FROM item_embeddings
    WHERE product_code <> ALL (%(exclude)s::text[])
    ORDER BY embedding <#> q.embedding
    LIMIT %(k)s
) n
ORDER BY n.score DESC
