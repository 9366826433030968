-- Purpose: "based on your profile" for a vector computed by the caller (e.g. the feature model for a customer
--          without a stored vector): the k items with the largest inner product, served by the HNSW
--          vector_ip_ops index (`<#>` is the negative inner product, so score = -(embedding <#> q)).
-- Parameters: %(q)s vector (the live version's dimension), %(k)s integer, %(exclude)s text[] product codes to
--             leave out, e.g. already in the cart (k + len(exclude) <= hnsw.ef_search, raised by the caller).
-- Caller: dataplatform.vector_store.recommend_for_vector (the inference Lambda).
SELECT product_code, -(embedding <#> %(q)s) AS score
FROM item_embeddings
WHERE product_code <> ALL (%(exclude)s::text[])
ORDER BY embedding <#> %(q)s
LIMIT %(k)s
