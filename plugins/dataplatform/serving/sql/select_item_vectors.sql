-- Purpose: every item vector of one model version, to answer k-NN queries in process (exact, no round trip per
--          query) while that version is live. A plain scan of a table no one modifies: no lock a swap waits for.
--          In product_code order by code point: the order the neighbour lists' positions refer to.
-- Parameters: {item_table} identifier of the version.
-- Caller: dataplatform.serving.version_matrix.VersionMatrix.load.
SELECT product_code, embedding
FROM {item_table}
ORDER BY product_code COLLATE "C"
