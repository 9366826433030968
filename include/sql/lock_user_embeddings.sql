-- Purpose: the first statement of a reader transaction whose next statement reads both views (user vector and
--          items together). It takes the views' locks in the order the swap takes them (user_embeddings, then
--          item_embeddings: see replace_embedding_views.sql). Within one statement PostgreSQL's lock order is
--          not fixed (a re-planned prepared statement may lock item_embeddings first), and a reader holding
--          item_embeddings while waiting for user_embeddings would deadlock with a swap holding the reverse.
--          Holding user_embeddings also pins the version: no swap can commit until this transaction ends.
-- Parameters: none.
-- Caller: dataplatform.vector_store.recommend_for_user, dataplatform.vector_store.verify_live.
LOCK TABLE user_embeddings IN ACCESS SHARE MODE
