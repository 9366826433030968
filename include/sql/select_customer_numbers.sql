-- Purpose: every customerNumber in the source, to check user embeddings against it.
-- Parameters: none.
-- Caller: dataplatform.model_artifacts.known_ids (embeddings_load DAG, validate_embeddings).
SELECT customerNumber FROM customers
