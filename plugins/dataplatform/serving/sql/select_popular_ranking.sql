-- Purpose: the popular-products fallback ranking, loaded whole into the serving process: the first %(n)s
--          products of every country and of all countries ('*'), best first.
-- Parameters: %(n)s integer.
-- Caller: dataplatform.serving.queries.popular_ranking (refreshed every POPULAR_REFRESH_SECONDS).
SELECT country, product_code
FROM popular_products
WHERE rank <= %(n)s
ORDER BY country, rank
