-- Purpose: primary keys of one version's tables, built after the COPY (one sort instead of 1M inserts). A
--          duplicate id fails here, which rolls the whole load back.
-- Parameters: {item_table}, {user_table}, {neighbours_table}, {top_items_table} (identifiers).
-- Caller: dataplatform.vector_store.load_version.
ALTER TABLE {item_table} ADD PRIMARY KEY (product_code);
ALTER TABLE {user_table} ADD PRIMARY KEY (customer_number);
ALTER TABLE {neighbours_table} ADD PRIMARY KEY (product_code);
ALTER TABLE {top_items_table} ADD PRIMARY KEY (customer_number);
