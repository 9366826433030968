-- Purpose: every stored customer's best items by inner product in one model version, computed exactly by the
--          loader, to answer "based on your profile" by lookup while that version is live. A plain scan of a
--          table no one modifies: no lock a swap waits for.
--          As positions in the version's items by product_code order (code point): no code to look up per entry.
-- Parameters: {top_items_table} identifier of the version.
-- Caller: dataplatform.serving.version_matrix.VersionMatrix.load.
SELECT customer_number, positions, scores
FROM {top_items_table}
