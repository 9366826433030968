-- Purpose: take every privilege on one table from the serving role (a table it must not read or write).
-- Parameters (psycopg.sql composition): {table} qualified identifier, {role} identifier.
-- Caller: dataplatform.vectordb.roles.sync_reader_grants (as the tables' owner, the pipelines' role).
REVOKE ALL ON {table} FROM {role}
