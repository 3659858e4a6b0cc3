-- A worker went away (its connection closed): the attempts it held on that connection ($3, or
-- all of them when null) are lost at once, and the tasks are retried without waiting for the
-- leases to run out. No back-off: the task did not fail, its worker did. Naming the attempts
-- matters with several servers: the worker may already hold new ones through another.
WITH ended AS (
  UPDATE attempts a SET status = 'lost', finished_at = now(),
    error = jsonb_build_object('code', 'DROVER_E_WORKER_LOST', 'message', $2::text)
  WHERE a.id IN (SELECT id FROM attempts WHERE worker_id = $1 AND status = 'active'
                 AND ($3::bigint[] IS NULL OR id = ANY ($3::bigint[])) ORDER BY id FOR UPDATE)
  RETURNING a.id, a.task_id, a.error
), applied AS (
  -- The next status is computed from the row being updated, not from the statement's snapshot: a
  -- cancel that committed while this waited for the row's lock must win.
  UPDATE tasks t SET
    status = status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry),
    error = e.error,
    progress = CASE WHEN status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry) = 'queued'
                    THEN 0 ELSE t.progress END,
    finished_at = CASE WHEN status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry) = 'queued'
                       THEN NULL ELSE now() END
  FROM (SELECT e.task_id, e.error, true AS retry FROM ended e) AS e WHERE t.id = e.task_id
  RETURNING t.id
)
SELECT e.id::text AS attempt_id, e.task_id::text AS task_id FROM ended e ORDER BY e.id
