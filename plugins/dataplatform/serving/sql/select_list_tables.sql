-- Purpose: whether a model version has its neighbour lists (item_neighbours__<slug>, user_top_items__<slug>,
--          computed by the loader; a version loaded before they existed has none and is answered by scans).
-- Parameters: %(neighbours_table)s, %(top_items_table)s: the tables' names (lower-case [a-z0-9_], resolved on the
--             search_path like the serving reads).
-- Caller: dataplatform.serving.version_matrix.VersionMatrix.load.
SELECT to_regclass(%(neighbours_table)s) IS NOT NULL AS has_neighbours,
       to_regclass(%(top_items_table)s) IS NOT NULL AS has_top_items
