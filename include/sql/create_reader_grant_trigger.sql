-- Purpose: fire the serving role's grant function after every CREATE TABLE (see create_reader_grant_function.sql).
-- Parameters (psycopg.sql composition): {trigger}, {function} identifiers.
-- Caller: dataplatform.vectordb.roles.ensure_reader_role (administrator).
CREATE EVENT TRIGGER {trigger} ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
    EXECUTE FUNCTION {function}()
