-- Purpose: the order lines placed in [since, until) on the MySQL read replica, with the customer's country and the
--          product's line, for the sales dashboard's hourly aggregate (aggregated in the task: see
--          bench/results/dashboard_freshness.md for the measurement that chose it). LEFT JOINs: a line whose
--          customer or product is missing is still read (country / product_line NULL) and stopped by the
--          data-quality checks, instead of vanishing from the revenue. Money as integer cents (priceEach is
--          DECIMAL(10,2)): exact sums, no Decimal objects in the dataframe. Orders without orderTimestamp (before
--          the platform team backfills it) have no hour and are not read.
-- Parameters: %(since)s, %(until)s naive UTC DATETIMEs (until: far future for an open window).
-- Caller: dataplatform.freshness.sales_extract.fetch_lines (dashboard_sales_refresh, stage_sales_window).
SELECT o.orderNumber AS order_number,
       o.orderTimestamp AS ordered_at,
       c.country AS country,
       p.productLine AS product_line,
       d.quantityOrdered AS units,
       CAST(d.priceEach * 100 AS SIGNED) AS price_cents
FROM orders o
JOIN orderdetails d ON d.orderNumber = o.orderNumber
LEFT JOIN customers c ON c.customerNumber = o.customerNumber
LEFT JOIN products p ON p.productCode = d.productCode
WHERE o.orderTimestamp >= %(since)s AND o.orderTimestamp < %(until)s
