-- Purpose: bulk load of one version's user vectors, binary COPY (rows: int4, vector). FREEZE: see
--          copy_item_embeddings.sql.
-- Parameters: {user_table} (identifier).
-- Caller: dataplatform.vector_store.load_version.
COPY {user_table} (customer_number, embedding) FROM STDIN WITH (FORMAT BINARY, FREEZE)
