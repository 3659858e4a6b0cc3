-- Cancels the tasks of a job (or the one task $2) that no worker holds: they will never start.
-- Later stages follow through the tasks trigger.
UPDATE tasks SET status = 'cancelled', finished_at = now(),
  error = jsonb_build_object('code', 'DROVER_E_CANCELLED', 'message', 'Cancelled: ' || $3::text)
WHERE job_id = $1 AND ($2::bigint IS NULL OR id = $2) AND status IN ('queued', 'blocked')
RETURNING id::text AS task_id
