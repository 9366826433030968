-- Purpose: one model version's empty tables, without keys or indexes: the loader adds the primary keys and
--          HNSW indexes after the bulk COPY (faster than maintaining them row by row).
--          The neighbour lists: each item's nearest items by cosine distance (itself left out) and each stored
--          customer's best items by inner product, best first, computed exactly by the loader (the serving
--          package answers stored customers and known products by lookup in them: dataplatform.serving.version_matrix).
-- Parameters (psycopg.sql composition, identifiers quoted by psycopg): {item_table}, {user_table},
--             {neighbours_table}, {top_items_table}, {dimension} (integer literal).
-- Caller: dataplatform.vector_store.load_version.
CREATE TABLE {item_table} (
    product_code text NOT NULL,
    embedding    vector({dimension}) NOT NULL
);
CREATE TABLE {user_table} (
    customer_number integer NOT NULL,
    embedding       vector({dimension}) NOT NULL
);;
CREATE TABLE {neighbours_table} (
    product_code text   NOT NULL,
    neighbours   text[] NOT NULL,
    distances    real[] NOT NULL,
    positions    int4[] NOT NULL  -- the neighbours as positions in the version's items by product_code (code point)
);
CREATE TABLE {top_items_table} (
    customer_number integer NOT NULL,
    items           text[]  NOT NULL,
    scores          real[]  NOT NULL,
    positions       int4[]  NOT NULL  -- the items as positions in the version's items by product_code (code point)
);
