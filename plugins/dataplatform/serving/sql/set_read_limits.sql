-- Purpose: the first statement of every serving read transaction: how many HNSW candidates a k-NN scan
--          returns (pgvector 0.6 has no iterative scan: at most hnsw.ef_search rows before any filter), and how
--          long a statement may run or wait for a lock. Transaction-local (`true`): the connection's session
--          settings are left as they were, whoever owns it.
-- Parameters: %(ef_search)s, %(statement_timeout)s, %(lock_timeout)s text (e.g. '100', '250ms', '50ms').
-- Caller: dataplatform.serving.queries (every read).
SELECT set_config('hnsw.ef_search', %(ef_search)s, true),
       set_config('statement_timeout', %(statement_timeout)s, true),
       set_config('lock_timeout', %(lock_timeout)s, true)
