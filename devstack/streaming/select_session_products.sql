-- Purpose: the product codes the local event generator puts in browse histories and carts.
-- Parameters: none.
-- Caller: devstack/streaming/source.py (catalogue_from_source).
SELECT productCode
FROM products
ORDER BY productCode
