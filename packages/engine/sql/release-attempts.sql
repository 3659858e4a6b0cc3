-- Attempts their worker gives back in an orderly shutdown ($1: [{attempt_id, token, reason}]): a
-- task it had not started, or stopped unfinished at its shutdown's deadline. The attempt ends
-- `released` and is not charged: the task gets one attempt more than it had (its submitted number
-- kept in attempt_budget, for a user's retry, as retry-tasks.sql does) and goes back to the queue
-- at once, without back-off. A task whose cancel was requested ends cancelled instead.
--
-- Attempts are found by primary key, as in fail-attempts.sql (which says why `IS NOT DISTINCT FROM`).
WITH r AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(attempt_id bigint, token uuid, reason text)
), ended AS (
  UPDATE attempts a SET
    status = CASE WHEN t.cancel_requested THEN 'cancelled' ELSE 'released' END,
    finished_at = now(),
    error = jsonb_build_object('code', 'DROVER_E_WORKER_RELEASED', 'message', r.reason)
  FROM r, tasks t
  WHERE a.id = r.attempt_id AND a.token = r.token AND a.status IS NOT DISTINCT FROM 'active' AND t.id = a.task_id
  RETURNING a.id, r.token, a.task_id, a.error
), applied AS (
  -- The cancel flag is read from the row being updated, not from the statement's snapshot: a
  -- cancel that committed while this waited for the row's lock must win.
  UPDATE tasks t SET
    status = CASE WHEN t.cancel_requested THEN 'cancelled' ELSE 'queued' END,
    attempt_budget = CASE WHEN t.cancel_requested THEN t.attempt_budget
                          ELSE coalesce(t.attempt_budget, t.max_attempts) END,
    max_attempts = CASE WHEN t.cancel_requested THEN t.max_attempts ELSE t.max_attempts + 1 END,
    error = CASE WHEN t.cancel_requested THEN e.error ELSE t.error END,
    progress = CASE WHEN t.cancel_requested THEN t.progress ELSE 0 END,
    finished_at = CASE WHEN t.cancel_requested THEN now() ELSE NULL END
  FROM (SELECT e.task_id, e.error FROM ended e) AS e WHERE t.id = e.task_id
  RETURNING t.id
), outcome AS MATERIALIZED (
  SELECT r.attempt_id, e.id IS NOT NULL AS accepted
  FROM r LEFT JOIN ended e ON e.id = r.attempt_id AND e.token = r.token
), refused AS (
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'refusals', 'report.refused', o.attempt_id::text,
         jsonb_build_object('report', 'release', 'attemptId', o.attempt_id::text)
  FROM outcome o WHERE NOT o.accepted
)
SELECT o.attempt_id::text AS attempt_id, o.accepted FROM outcome o
