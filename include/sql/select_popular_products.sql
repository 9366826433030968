-- Purpose: the fallback recommendation: the k most popular products for a country, topped up from the
--          overall ranking when the country has fewer than k (or is unknown).
-- Parameters: %(country)s text (may be NULL), %(k)s integer.
-- Caller: dataplatform.popular_products.top (the inference fallback).
SELECT product_code, units_7d, units_30d
FROM (
    SELECT DISTINCT ON (product_code) product_code, units_7d, units_30d, country = '*' AS overall, rank
    FROM popular_products
    WHERE country IN (%(country)s, '*')
    ORDER BY product_code, country = '*'
) p
ORDER BY overall, rank
LIMIT %(k)s
