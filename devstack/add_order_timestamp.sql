-- Purpose: the platform team's announced additive change to the source: `orders.orderTimestamp`, when the order
--          was placed (UTC, to the second). `orderDate` (a DATE) stays as it is; every existing reader keeps working.
--          Nullable, as an online ALTER on the replica's primary adds it: rows written before the sales platform
--          sets it stay NULL until the platform team backfills them (readers that need an hour skip those rows).
--          Indexed: the sales dashboard extracts by it (`dashboard_sales_refresh`, a watermark on this column).
-- Parameters: none; run inside the source database, after devstack/source_schema.sql.
-- Caller: devstack/seed.py (`load`, when the generated orders carry the column: `--order-timestamps`).
-- Announcement: include/contracts/sales_source.yaml (`announced`), quoted by the dashboard's schema check.
ALTER TABLE orders
  ADD COLUMN orderTimestamp datetime DEFAULT NULL AFTER orderDate,
  ADD KEY idx_orders_orderTimestamp (orderTimestamp)
