-- A worker went away (its connection closed): every attempt it holds is lost at once, and the
-- tasks are retried without waiting for the leases to run out. No back-off: the task did not fail,
-- its worker did.
WITH ended AS (
  UPDATE attempts a SET status = 'lost', finished_at = now(),
    error = jsonb_build_object('code', 'DROVER_E_WORKER_LOST', 'message', $2::text)
  WHERE a.id IN (SELECT id FROM attempts WHERE worker_id = $1 AND status = 'active' ORDER BY id FOR UPDATE)
  RETURNING a.id, a.task_id, a.error
), next AS (
  SELECT e.task_id, e.error, status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, true) AS status
  FROM ended e JOIN tasks t ON t.id = e.task_id
), applied AS (
  UPDATE tasks t SET
    status = n.status,
    error = n.error,
    progress = CASE WHEN n.status = 'queued' THEN 0 ELSE t.progress END,
    finished_at = CASE WHEN n.status = 'queued' THEN NULL ELSE now() END
  FROM next n WHERE t.id = n.task_id
  RETURNING t.id
)
SELECT e.id::text AS attempt_id, e.task_id::text AS task_id FROM ended e ORDER BY e.id
