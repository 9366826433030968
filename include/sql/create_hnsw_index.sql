-- Purpose: one HNSW index on a version's item vectors. Items get two: vector_ip_ops for "based on your
--          profile" (user vector . item vector, operator <#>) and vector_cosine_ops for "similar to what you
--          browsed" (item vs items, operator <=>). Users get none: they are only read by primary key.
-- Parameters: {index}, {table} (identifiers), {opclass} (vector_ip_ops | vector_cosine_ops), {m} and
--             {ef_construction} (integer literals).
-- Caller: dataplatform.vector_store.load_version (and the bench/ scripts).
CREATE INDEX {index} ON {table} USING hnsw (embedding {opclass}) WITH (m = {m}, ef_construction = {ef_construction})
