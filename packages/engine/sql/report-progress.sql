-- Progress (0..1, or null to keep it) and a status message from the holders of active attempts.
-- The first report marks a leased task running. Reports with a stale token are refused and
-- recorded on the refusals topic, never applied.
--
-- Attempts are found by primary key: `status IS NOT DISTINCT FROM 'active'`, not `=`, so that the
-- planner cannot read the partial indexes of active attempts instead. Those keep an entry for
-- every attempt that was active since the last vacuum, and a bitmap scan reads them all: 25,000
-- completions in, each batch of results read 25,000 entries to find its 50.
WITH r AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(attempt_id bigint, token uuid, progress double precision, message text)
), valid AS (
  SELECT a.id, r.token, a.task_id, a.number, r.progress, r.message FROM r
  JOIN attempts a ON a.id = r.attempt_id AND a.token = r.token AND a.status IS NOT DISTINCT FROM 'active'
), applied AS (
  UPDATE tasks t SET
    status = 'running',
    -- greatest() ignores nulls, so a report without progress must be caught first.
    progress = CASE WHEN v.progress IS NULL THEN t.progress ELSE least(1, greatest(0, v.progress)) END,
    message = coalesce(v.message, t.message)
  -- Rechecked on the newest row: if the attempt ended and the task moved on to its next attempt
  -- while this waited, the report is about a task that is no longer its own.
  FROM valid v WHERE t.id = v.task_id AND t.status IN ('leased', 'running') AND t.attempt = v.number
  RETURNING t.id
), outcome AS MATERIALIZED (
  -- A join, not a subquery per report: a batch of a thousand must not cost a million comparisons.
  SELECT r.attempt_id, p.id IS NOT NULL AS accepted
  FROM r
  LEFT JOIN valid v ON v.id = r.attempt_id AND v.token = r.token
  LEFT JOIN applied p ON p.id = v.task_id
), refused AS (
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'refusals', 'report.refused', o.attempt_id::text,
         jsonb_build_object('report', 'progress', 'attemptId', o.attempt_id::text)
  FROM outcome o WHERE NOT o.accepted
)
SELECT o.attempt_id::text AS attempt_id, o.accepted FROM outcome o
