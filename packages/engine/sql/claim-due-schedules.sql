-- The schedules whose next tick has come, earliest first, locked for this transaction: a ticker
-- on another server skips them rather than waiting, and finds them moved on once this commits.
-- `now` is the database's clock, the same for every server.
SELECT s.id, s.name, s.group_name, s.cron, s.timezone, s.overlap, s.catch_up, s.job,
       s.next_run_at, s.last_job_id, now() AS now,
       (SELECT j.status FROM jobs j WHERE j.id = s.last_job_id) AS last_job_status
FROM schedules s
WHERE s.next_run_at <= now()
ORDER BY s.next_run_at
LIMIT $1
FOR UPDATE OF s SKIP LOCKED
