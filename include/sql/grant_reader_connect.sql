-- Purpose: the serving role may connect to the vector database (and nothing else on it: no CREATE, no TEMP).
-- Parameters (psycopg.sql composition): {database}, {role} identifiers.
-- Caller: dataplatform.vectordb.roles.ensure_reader_role (administrator).
GRANT CONNECT ON DATABASE {database} TO {role}
