-- Purpose: the customers the local event generator draws sessions from (known customers of the seeded source).
-- Parameters: none.
-- Caller: devstack/streaming/source.py (catalogue_from_source).
SELECT customerNumber, city, country, creditLimit
FROM customers
ORDER BY customerNumber
