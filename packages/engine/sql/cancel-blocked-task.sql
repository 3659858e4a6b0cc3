-- Cancelling one blocked task: the job is locked first, the order the tasks trigger keeps when it
-- releases or cancels blocked tasks, so the two can never deadlock.
WITH job AS (
  SELECT id FROM jobs WHERE id = $1 FOR UPDATE
)
UPDATE tasks t SET status = 'cancelled', finished_at = now(),
  error = jsonb_build_object('code', 'DROVER_E_CANCELLED', 'message', 'Cancelled: ' || $3::text)
FROM job WHERE t.job_id = job.id AND t.id = $2 AND t.status = 'blocked'
RETURNING t.id::text AS task_id
