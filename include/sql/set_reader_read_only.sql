-- Purpose: every transaction of the serving role starts read-only (defence in depth behind its SELECT-only
--          grants: even a grant added by mistake cannot be used to write).
-- Parameters (psycopg.sql composition): {role} identifier.
-- Caller: dataplatform.vectordb.roles.ensure_reader_role (administrator).
ALTER ROLE {role} SET default_transaction_read_only = on
