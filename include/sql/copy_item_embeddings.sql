-- Purpose: bulk load of one version's item vectors, binary COPY (rows: text, vector). FREEZE: the table was
--          created in this transaction, so rows are written frozen and all-visible (no later rewrite by VACUUM).
-- Parameters: {item_table} (identifier).
-- Caller: dataplatform.vector_store.load_version (and bench/vector_load.py).
COPY {item_table} (product_code, embedding) FROM STDIN WITH (FORMAT BINARY, FREEZE)
