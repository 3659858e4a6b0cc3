-- The first step of a job's cancel, in a transaction of its own: from its commit on, claims skip
-- the job's tasks and any of them that comes back to the queue is cancelled by the tasks trigger.
-- A finished job is left as it is.
UPDATE jobs SET cancel_reason = coalesce(cancel_reason, $2), updated_at = now()
WHERE id = $1 AND finished_at IS NULL
RETURNING id
