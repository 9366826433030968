-- Purpose: the live version's neighbour lists as readers see them (post-swap check): one row per item and one per
--          stored customer, and list entries whose `positions` (what the serving package reads) do not name the
--          item their product code names, in the version's items by product_code order (code point; 0 expected).
--          Plain reads of tables no one modifies: no lock a swap would wait for.
-- Parameters: {item_table}, {neighbours_table}, {top_items_table} (identifiers of the live version's tables).
-- Caller: dataplatform.vectordb.store.verify_live (embeddings_load DAG, verify_live_model).
WITH ordered AS (
    SELECT product_code, (row_number() OVER (ORDER BY product_code COLLATE "C") - 1)::int4 AS position
    FROM {item_table}
),
entries AS (
    SELECT e.code, e.position FROM {neighbours_table} n, unnest(n.neighbours, n.positions) AS e(code, position)
    UNION ALL
    SELECT e.code, e.position FROM {top_items_table} t, unnest(t.items, t.positions) AS e(code, position)
)
SELECT (SELECT count(*) FROM {neighbours_table}) AS item_lists,
       (SELECT count(*) FROM {top_items_table}) AS user_lists,
       (SELECT count(*) FROM entries LEFT JOIN ordered o ON o.position = entries.position
        WHERE o.product_code IS DISTINCT FROM entries.code) AS misplaced_entries
