-- Purpose: data-quality check "revenue equals the sum of its lines": the staged window's revenue, compared by
--          SQLValueCheckOperator with the sum of quantityOrdered x priceEach over the order lines the run read.
-- Parameters: none.
-- Caller: dashboard_sales_refresh, check_sales_revenue.
SELECT COALESCE(SUM(revenue), 0.00) FROM analytics.sales_hourly_stage
