-- Wakes the dispatchers: there are tasks to claim.
SELECT pg_notify(current_schema() || '_events', 'queue')
