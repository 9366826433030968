-- Purpose: drop the serving role's grant trigger before it is created again (CREATE EVENT TRIGGER has no
--          IF NOT EXISTS); both run in one transaction, so no table is created in between without it.
-- Parameters (psycopg.sql composition): {trigger} identifier.
-- Caller: dataplatform.vectordb.roles.ensure_reader_role (administrator).
DROP EVENT TRIGGER IF EXISTS {trigger}
