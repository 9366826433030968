-- Purpose: every customer vector of one model version, to look customers up in process while that version is
--          live (no round trip per request). A plain scan of a table no one modifies: no lock a swap waits for.
-- Parameters: {user_table} identifier of the version.
-- Caller: dataplatform.serving.version_matrix.VersionMatrix.load.
SELECT customer_number, embedding
FROM {user_table}
