-- Purpose: every productCode in the source catalogue, to check item embeddings against it.
-- Parameters: none.
-- Caller: dataplatform.model_artifacts.known_ids (embeddings_load DAG, validate_embeddings).
SELECT productCode FROM products
