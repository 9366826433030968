-- Purpose: customers' stored vectors in one model version (primary-key lookups); customers without one are
--          simply absent.
-- Parameters: %(customers)s int[]; {user_table} identifier of the live version.
-- Caller: dataplatform.serving.queries.user_vectors.
SELECT customer_number, embedding
FROM {user_table}
WHERE customer_number = ANY (%(customers)s::int[])
