-- Tasks became claimable without entering the queue (a job or group resumed): the dispatchers of
-- every server, woken by this notification at the commit, claim at once.
SELECT pg_notify(current_schema() || '_events', 'queue')
