-- A finished job that comes back (extended or retried) takes its group's pause as it is now ($2,
-- from group-pause-of-job.sql): a group paused while the job was finished holds it too. The job's
-- row is locked by the caller.
UPDATE jobs SET group_paused = $2
WHERE id = $1 AND finished_at IS NOT NULL AND group_paused <> $2
