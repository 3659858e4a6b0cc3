-- Marks the held tasks of a job (or the one task $2) for cancellation: the server stops them on
-- their workers, and the attempt's end makes them cancelled. Returns what to stop, and where.
WITH marked AS (
  UPDATE tasks t SET cancel_requested = true, message = 'Cancelling: ' || $3::text
  WHERE t.job_id = $1 AND ($2::bigint IS NULL OR t.id = $2) AND t.status IN ('leased', 'running')
    AND NOT t.cancel_requested
  RETURNING t.id
)
SELECT m.id::text AS task_id, a.id::text AS attempt_id, a.worker_id::text AS worker_id
FROM marked m JOIN attempts a ON a.task_id = m.id AND a.status = 'active'
ORDER BY m.id
