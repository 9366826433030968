-- Purpose: bulk load of one version's per-customer best items, binary COPY (rows: int4, text[], real[], int4[]).
--          FREEZE: see copy_item_embeddings.sql.
-- Parameters: {top_items_table} (identifier).
-- Caller: dataplatform.vectordb.store.load_version.
COPY {top_items_table} (customer_number, items, scores, positions) FROM STDIN WITH (FORMAT BINARY, FREEZE)
