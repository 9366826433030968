-- Purpose: every item's nearest items by cosine distance in one model version, computed exactly by the loader,
--          to answer "similar to what you browsed" by lookup while that version is live. A plain scan of a table
--          no one modifies: no lock a swap waits for.
--          As positions in the version's items by product_code order (code point): no code to look up per entry.
-- Parameters: {neighbours_table} identifier of the version.
-- Caller: dataplatform.serving.version_matrix.VersionMatrix.load.
SELECT product_code, positions, distances
FROM {neighbours_table}
ORDER BY product_code COLLATE "C"
