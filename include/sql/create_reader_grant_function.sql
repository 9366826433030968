-- Purpose: the event-trigger function that keeps the serving role's grants through every embeddings_load: when a
--          table the serving code reads is created in the store's schema (a model version's
--          item_embeddings__<slug> / user_embeddings__<slug> / item_neighbours__<slug> / user_top_items__<slug>,
--          model_versions, popular_products), SELECT on it is granted to the serving role in the same transaction.
--          It runs as the user creating the table (the loader, its owner), so it needs no privilege of its own. Any
--          other table gets nothing.
-- Parameters (psycopg.sql composition): {function} identifier; {schema}, {role}, {pattern} (a regular expression
--             over table names) literals.
-- Caller: dataplatform.vectordb.roles.ensure_reader_role (administrator; event triggers need the RDS master user).
CREATE OR REPLACE FUNCTION {function}() RETURNS event_trigger
LANGUAGE plpgsql AS $body$
DECLARE
    created regclass;
BEGIN
    FOR created IN
        SELECT c.oid::regclass
        FROM pg_event_trigger_ddl_commands() AS d
        JOIN pg_class AS c ON c.oid = d.objid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE d.classid = 'pg_class'::regclass
          AND c.relkind IN ('r', 'p')
          AND n.nspname = {schema}
          AND c.relname ~ {pattern}
    LOOP
        EXECUTE format('GRANT SELECT ON %s TO %I', created, {role});
    END LOOP;
END
$body$
