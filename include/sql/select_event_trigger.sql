-- Purpose: whether the serving role's grant trigger exists and is enabled, and its function's source (which holds
--          the table-name pattern it grants by).
-- Parameters: %(trigger)s text.
-- Caller: dataplatform.vectordb.roles.reader_problems.
SELECT t.evtname, t.evtenabled, p.prosrc
FROM pg_event_trigger AS t
JOIN pg_proc AS p ON p.oid = t.evtfoid
WHERE t.evtname = %(trigger)s
