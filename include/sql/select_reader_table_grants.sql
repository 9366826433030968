-- Purpose: every table and view of the schema with whether the serving role can SELECT it, and whether it holds
--          any other table privilege, and whether the serving code reads it (its name matches %(pattern)s):
--          what roles.sync_reader_grants compares to least privilege.
-- Parameters: %(role)s text, %(schema)s text, %(pattern)s text (regular expression over table names).
-- Caller: dataplatform.vectordb.roles.grant_changes.
SELECT c.relname AS table_name,
       c.relname ~ %(pattern)s AND c.relkind IN ('r', 'p') AS served,
       has_table_privilege(%(role)s, c.oid, 'SELECT') AS can_select,
       has_table_privilege(%(role)s, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') AS can_write,
       pg_get_userbyid(c.relowner) = current_user AS owned
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY c.relname
