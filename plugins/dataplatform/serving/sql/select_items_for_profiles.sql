-- Purpose: "based on your profile" for a whole batch in one statement: for each query (a customer number and
--          an optional computed vector, e.g. from the user-feature model) the customer's stored vector if the
--          live version has one, else the computed vector, against the items by largest inner product (HNSW
--          vector_ip_ops index, `<#>` is the negative inner product: score = -(embedding <#> v)). Returns up to
--          `limit` rows per query (the caller drops cart items afterwards, so limit = k + cart size <=
--          hnsw.ef_search), and `stored` = whether the customer's own vector was used. A query with neither
--          vector returns no rows. Both tables belong to one model version (named by the caller).
-- Parameters: %(customers)s int[], %(vectors)s vector[] (NULL elements allowed), %(limits)s int[], all of one
--             length; {user_table}, {item_table} identifiers of the live version.
-- Caller: dataplatform.serving.queries.items_for_profiles.
WITH q AS (
    SELECT p.i, coalesce(u.embedding, p.v) AS v, u.embedding IS NOT NULL AS stored, p.lim
    FROM unnest(%(customers)s::int[], %(vectors)s::vector[], %(limits)s::int[]) WITH ORDINALITY AS p(c, v, lim, i)
    LEFT JOIN {user_table} u ON u.customer_number = p.c
)
SELECT q.i, q.stored, n.product_code, n.score
FROM q CROSS JOIN LATERAL (
    SELECT product_code, -(embedding <#> q.v) AS score
    FROM {item_table}
    ORDER BY embedding <#> q.v
    LIMIT q.lim
) n
WHERE q.v IS NOT NULL
ORDER BY q.i, n.score DESC
