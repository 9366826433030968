-- Purpose: units sold per product in the 7 and 30 days up to %(as_of)s, per customer country and overall ('*'),
--          plus all-time units as the last tie-breaker, from the source (MySQL read replica).
-- Parameters: %(as_of)s date, the end of the window (the export date).
-- Caller: dataplatform.popular_products.units_sold (training_data_export DAG, refresh_popular_products).
WITH sold AS (
    SELECT c.country, d.productCode, d.quantityOrdered AS units,
           o.orderDate > %(as_of)s - INTERVAL 7 DAY AS in_7d,
           o.orderDate > %(as_of)s - INTERVAL 30 DAY AS in_30d
    FROM orders o
    JOIN orderdetails d ON d.orderNumber = o.orderNumber
    JOIN customers c ON c.customerNumber = o.customerNumber
    WHERE o.orderDate <= %(as_of)s AND o.status <> 'Cancelled'
)
SELECT country, productCode,
       SUM(CASE WHEN in_7d THEN units ELSE 0 END), SUM(CASE WHEN in_30d THEN units ELSE 0 END), SUM(units)
FROM sold GROUP BY country, productCode
UNION ALL
SELECT '*', productCode,
       SUM(CASE WHEN in_7d THEN units ELSE 0 END), SUM(CASE WHEN in_30d THEN units ELSE 0 END), SUM(units)
FROM sold GROUP BY productCode
