-- Purpose: create the read-only serving role (a login role with no other attribute; ALTER below sets them all).
-- Parameters (psycopg.sql composition): {role} identifier.
-- Caller: dataplatform.vectordb.roles.ensure_reader_role, when select_database_role.sql found none.
CREATE ROLE {role} LOGIN
