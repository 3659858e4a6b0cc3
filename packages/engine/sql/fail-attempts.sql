-- Failures from the holders of active attempts. The task goes back to the queue after a back-off
-- while attempts remain and the failure is retryable, is cancelled if a cancel was requested, and
-- fails for good otherwise.
--
-- Attempts are found by primary key: `status IS NOT DISTINCT FROM 'active'`, not `=`, so that the
-- planner cannot read the partial indexes of active attempts instead. Those keep an entry for
-- every attempt that was active since the last vacuum, and a bitmap scan reads them all: 25,000
-- completions in, each batch of results read 25,000 entries to find its 50.
WITH r AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(attempt_id bigint, token uuid, error jsonb, retry boolean)
), ended AS (
  -- An attempt that ends after a cancel reached its task ends cancelled, whatever stopped it.
  UPDATE attempts a SET
    status = CASE WHEN t.cancel_requested THEN 'cancelled' ELSE 'failed' END,
    finished_at = now(), error = r.error
  FROM r, tasks t
  WHERE a.id = r.attempt_id AND a.token = r.token AND a.status IS NOT DISTINCT FROM 'active' AND t.id = a.task_id
  RETURNING a.id, r.token, a.task_id, a.worker_id, a.status, r.error, r.retry
), applied AS (
  -- The next status is computed from the row being updated, not from the statement's snapshot: a
  -- cancel that committed while this waited for the row's lock must win.
  UPDATE tasks t SET
    status = status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry),
    error = e.error,
    run_at = CASE WHEN status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry) = 'queued'
                  THEN now() + retry_delay(t.attempt, t.backoff_initial_ms, t.backoff_max_ms) ELSE t.run_at END,
    progress = CASE WHEN status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry) = 'queued'
                    THEN 0 ELSE t.progress END,
    finished_at = CASE WHEN status_after_failure(t.cancel_requested, t.attempt, t.max_attempts, e.retry) = 'queued'
                       THEN NULL ELSE now() END
  FROM (SELECT e.task_id, e.error, e.retry FROM ended e) AS e WHERE t.id = e.task_id
  RETURNING t.id
), struck AS (
  -- A failure by the task's own error counts against its worker for the job (the blocklist).
  -- Read through `applied`, so the tasks are locked before the job's row is (when this blocks a
  -- worker): the order every other statement takes them in, which keeps it out of deadlocks.
  SELECT count_worker_failures(array_agg(e.task_id), array_agg(e.worker_id)) AS done
  FROM ended e JOIN applied d ON d.id = e.task_id WHERE e.status = 'failed'
), outcome AS MATERIALIZED (
  -- A join, not a subquery per report: a batch of a thousand must not cost a million comparisons.
  SELECT r.attempt_id, e.id IS NOT NULL AS accepted
  FROM r LEFT JOIN ended e ON e.id = r.attempt_id AND e.token = r.token
), refused AS (
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'refusals', 'report.refused', o.attempt_id::text,
         jsonb_build_object('report', 'failure', 'attemptId', o.attempt_id::text)
  FROM outcome o WHERE NOT o.accepted
)
SELECT o.attempt_id::text AS attempt_id, o.accepted FROM outcome o CROSS JOIN struck
