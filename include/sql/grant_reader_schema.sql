-- Purpose: the serving role may look up objects in the vector store's schema (USAGE only: it cannot create).
-- Parameters (psycopg.sql composition): {schema}, {role} identifiers.
-- Caller: dataplatform.vectordb.roles.ensure_reader_role (administrator).
GRANT USAGE ON SCHEMA {schema} TO {role}
