-- Cancels the tasks of a job (or the one task $2) in one statement: a queued task is cancelled and
-- never starts; a held one is marked for its worker to stop, and ends cancelled when its attempt
-- ends. One statement, because a task that changes status while this waits for its row lock is
-- judged again on its newest version, and the CASE then applies to what it has become.
-- Blocked tasks are left to the tasks trigger, which alone touches them, under the job's lock:
-- they are cancelled when the stage they wait for can no longer succeed.
WITH changed AS (
  UPDATE tasks t SET
    status = CASE WHEN t.status = 'queued' THEN 'cancelled' ELSE t.status END,
    cancel_requested = t.cancel_requested OR t.status IN ('leased', 'running'),
    message = CASE WHEN t.status IN ('leased', 'running') THEN 'Cancelling: ' || $3::text ELSE t.message END,
    finished_at = CASE WHEN t.status = 'queued' THEN now() ELSE t.finished_at END,
    error = CASE WHEN t.status = 'queued'
                 THEN jsonb_build_object('code', 'DROVER_E_CANCELLED', 'message', 'Cancelled: ' || $3::text)
                 ELSE t.error END
  WHERE t.job_id = $1 AND ($2::bigint IS NULL OR t.id = $2)
    AND (t.status = 'queued' OR (t.status IN ('leased', 'running') AND NOT t.cancel_requested))
  RETURNING t.id, t.status
)
SELECT c.id::text AS task_id, c.status, a.id::text AS attempt_id, a.worker_id::text AS worker_id
FROM changed c LEFT JOIN attempts a ON a.task_id = c.id AND a.status = 'active'
ORDER BY c.id
