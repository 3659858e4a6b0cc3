-- Taken last in a cancel, after the tasks, to keep the lock order (tasks before jobs).
UPDATE jobs SET cancel_reason = coalesce(cancel_reason, $2), updated_at = now()
WHERE id = $1
RETURNING job_json(jobs) AS job
