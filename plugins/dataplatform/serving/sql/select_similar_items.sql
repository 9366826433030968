-- Purpose: "similar to what you browsed" for every distinct browsed product of a batch in one statement: the
--          items nearest to each by cosine distance (HNSW vector_cosine_ops index, `<=>`), the product itself
--          left out. Up to %(limit)s - 1 rows per product (the scan's LIMIT counts the product itself; limit <=
--          hnsw.ef_search); a product the live version does not know returns no rows.
-- Parameters: %(codes)s text[] product codes, %(limit)s integer; {item_table} identifier of the live version.
-- Caller: dataplatform.serving.queries.similar_items.
SELECT s.product_code AS source, n.product_code, n.distance
FROM {item_table} s
CROSS JOIN LATERAL (
    SELECT product_code, embedding <=> s.embedding AS distance
    FROM {item_table}
    ORDER BY embedding <=> s.embedding
    LIMIT %(limit)s
) n
WHERE s.product_code = ANY (%(codes)s::text[]) AND n.product_code <> s.product_code
ORDER BY s.product_code, n.distance
