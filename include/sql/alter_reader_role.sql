-- Purpose: the read-only serving role's attributes and password, whatever they were: may log in, nothing else
--          (no superuser, role or database creation, replication, RLS bypass, privileges inherited from other
--          roles), at most {connection_limit} connections. Rotating the password = running this again.
-- Parameters (psycopg.sql composition): {role} identifier, {connection_limit} integer literal, {password} literal.
-- Caller: dataplatform.vectordb.roles.ensure_reader_role (administrator).
ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT
    CONNECTION LIMIT {connection_limit} PASSWORD {password}
