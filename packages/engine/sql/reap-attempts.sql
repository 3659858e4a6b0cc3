-- The lease reaper: active attempts whose lease expired (the worker stopped renewing it) or that
-- ran past the task's timeout are given up. Their tasks are retried (a lost one at once, at its
-- place in the queue; a timed-out one after a back-off), cancelled if a cancel was requested, or
-- failed when no attempts remain. Timed-out attempts are returned so the
-- server can stop what may still run.
WITH due AS (
  SELECT id FROM attempts
  WHERE status = 'active' AND least(lease_expires_at, deadline_at) <= now()
  ORDER BY id LIMIT $1
  FOR UPDATE SKIP LOCKED
), ended AS (
  UPDATE attempts a SET
    status = CASE WHEN a.deadline_at <= now() THEN 'timed_out' ELSE 'lost' END,
    finished_at = now(),
    error = CASE WHEN a.deadline_at <= now()
      THEN jsonb_build_object('code', 'DROVER_E_TASK_TIMEOUT',
             'message', 'The attempt ran longer than the task''s timeout and was stopped.')
      ELSE jsonb_build_object('code', 'DROVER_E_WORKER_LOST',
             'message', 'The worker stopped renewing its lease, so the attempt was given up.') END
  FROM due WHERE a.id = due.id
  RETURNING a.id, a.task_id, a.worker_id, a.status, a.error
), applied AS (
  -- The next status is computed from the row being updated, not from the statement's snapshot: a
  -- cancel that committed while this waited for the row's lock must win.
  UPDATE tasks t SET
    status = status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry),
    error = e.error,
    -- A lost lease is the worker's failure, not the task's: the task goes back to its place in
    -- the queue (by priority, run-at and submission), not behind it. A timeout backs off.
    run_at = CASE WHEN status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry) = 'queued'
                       AND e.status = 'timed_out'
                  THEN now() + retry_delay(t.attempt, t.backoff_initial_ms, t.backoff_max_ms) ELSE t.run_at END,
    progress = CASE WHEN status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry) = 'queued'
                    THEN 0 ELSE t.progress END,
    finished_at = CASE WHEN status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry) = 'queued'
                       THEN NULL ELSE now() END
  FROM (SELECT e.task_id, e.error, e.status, true AS retry FROM ended e) AS e WHERE t.id = e.task_id
  RETURNING t.id
), struck AS (
  -- A timeout counts against the worker for the job (the blocklist); a lost lease does not.
  -- Read through `applied`, so the tasks are locked before the job's row (see fail-attempts.sql).
  SELECT count_worker_failures(array_agg(e.task_id), array_agg(e.worker_id)) AS done
  FROM ended e JOIN applied d ON d.id = e.task_id WHERE e.status = 'timed_out'
)
SELECT e.id::text AS attempt_id, e.task_id::text AS task_id, e.worker_id::text AS worker_id, e.status
FROM ended e CROSS JOIN struck ORDER BY e.id
