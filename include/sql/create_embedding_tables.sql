-- Purpose: one model version's empty tables, without keys or indexes: the loader adds the primary keys and
--          HNSW indexes after the bulk COPY (faster than maintaining them row by row).
-- Parameters (psycopg.sql composition, identifiers quoted by psycopg): {item_table}, {user_table},
--             {dimension} (integer literal).
-- Caller: dataplatform.vector_store.load_version.
CREATE TABLE {item_table} (
    product_code text NOT NULL,
    embedding    vector({dimension}) NOT NULL
);
CREATE TABLE {user_table} (
    customer_number integer NOT NULL,
    embedding       vector({dimension}) NOT NULL
);
