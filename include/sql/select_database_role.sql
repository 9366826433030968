-- Purpose: whether a database role exists, and the attributes a read-only serving role must not have.
-- Parameters: %(role)s text.
-- Caller: dataplatform.vectordb.roles.ensure_reader_role (administrator), roles.reader_problems.
SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolinherit, rolcanlogin,
       rolconnlimit, coalesce(rolconfig, '{}') AS config
FROM pg_roles
WHERE rolname = %(role)s
