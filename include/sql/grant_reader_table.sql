-- Purpose: the serving role may read one table the serving code reads.
-- Parameters (psycopg.sql composition): {table} qualified identifier, {role} identifier.
-- Caller: dataplatform.vectordb.roles.sync_reader_grants (as the tables' owner, the pipelines' role).
GRANT SELECT ON {table} TO {role}
