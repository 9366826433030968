-- Purpose: a customer's stored vector in the live model version (primary-key lookup).
-- Parameters: %(customer_number)s integer.
-- Caller: dataplatform.vector_store.user_vector (the inference Lambda).
SELECT embedding FROM user_embeddings WHERE customer_number = %(customer_number)s
