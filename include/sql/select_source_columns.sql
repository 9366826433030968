-- Purpose: the live columns of the source tables, for the schema-contract check.
-- Parameters: %(database)s the source schema, %(tables)s tuple of table names.
-- Caller: dataplatform.training_export.check_source_schema (training_data_export DAG, check_source_schema).
SELECT table_name, column_name, column_type, is_nullable = 'YES' AS nullable, column_key = 'PRI' AS primary_key
FROM information_schema.columns
WHERE table_schema = %(database)s AND table_name IN %(tables)s
ORDER BY table_name, ordinal_position
