-- Purpose: data-quality check "no future hours": true when no staged hour is after the current hour and no order
--          time is in the future (an order stamped ahead of the clock, or a time zone read wrongly). One boolean,
--          also true for an empty window.
-- Parameters: none.
-- Caller: dashboard_sales_refresh, check_sales_hours (SQLCheckOperator).
SELECT NOT EXISTS (
    SELECT 1 FROM analytics.sales_hourly_stage
    WHERE order_hour > date_trunc('hour', now()) OR last_event_at > now()
) AS no_future_hours
