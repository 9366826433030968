-- Purpose: point the reader views at one version's tables. Runs inside the swap transaction, so readers see
--          the old views or the new ones, never none. DROP + CREATE, not CREATE OR REPLACE: the dimension (the
--          column's typmod) may change between versions. The views expose `embedding` without a typmod
--          (`::vector`) so their row type is the same for every dimension: a reader's prepared statement is
--          re-planned after a swap instead of failing with "cached plan must not change result type". The
--          planner still matches the HNSW index through the cast (a relabel, no function call).
--          Order matters: user_embeddings first, then item_embeddings, the order in which a reader that reads
--          both in one statement (select_items_for_user.sql: WITH over users, then items) locks them, so the
--          swap and such a reader can wait for each other but never deadlock.
-- Parameters: {item_table}, {user_table} (identifiers).
-- Caller: dataplatform.vector_store.swap_live, dataplatform.vector_store.rollback.
DROP VIEW IF EXISTS user_embeddings;
DROP VIEW IF EXISTS item_embeddings;
CREATE VIEW user_embeddings AS SELECT customer_number, embedding::vector AS embedding FROM {user_table};
CREATE VIEW item_embeddings AS SELECT product_code, embedding::vector AS embedding FROM {item_table};
