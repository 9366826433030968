-- Purpose: every item's nearest items by cosine distance in one model version, computed exactly by the loader,
--          to answer "similar to what you browsed" by lookup while that version is live. A plain scan of a table
--          no one modifies: no lock a swap waits for.
-- Parameters: {neighbours_table} identifier of the version.
-- Caller: dataplatform.serving.version_matrix.VersionMatrix.load.
SELECT product_code, neighbours, distances
FROM {neighbours_table}
