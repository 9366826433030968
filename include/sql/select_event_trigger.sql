-- Purpose: whether the serving role's grant trigger exists and is enabled.
-- Parameters: %(trigger)s text.
-- Caller: dataplatform.vectordb.roles.reader_problems.
SELECT evtname, evtenabled FROM pg_event_trigger WHERE evtname = %(trigger)s
