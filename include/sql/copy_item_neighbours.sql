-- Purpose: bulk load of one version's item neighbour lists, binary COPY (rows: text, text[], real[], int4[]). FREEZE: see
--          copy_item_embeddings.sql.
-- Parameters: {neighbours_table} (identifier).
-- Caller: dataplatform.vectordb.store.load_version.
COPY {neighbours_table} (product_code, neighbours, distances, positions) FROM STDIN WITH (FORMAT BINARY, FREEZE)
