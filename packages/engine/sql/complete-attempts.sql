-- Results from the holders of active attempts: the attempt and its task succeed. An attempt ends
-- once: a second report, or one with a stale token, is refused and recorded, never applied.
--
-- Attempts are found by primary key: `status IS NOT DISTINCT FROM 'active'`, not `=`, so that the
-- planner cannot read the partial indexes of active attempts instead. Those keep an entry for
-- every attempt that was active since the last vacuum, and a bitmap scan reads them all: 25,000
-- completions in, each batch of results read 25,000 entries to find its 50.
WITH r AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(attempt_id bigint, token uuid, result jsonb)
), ended AS (
  UPDATE attempts a SET status = 'succeeded', finished_at = now()
  FROM r WHERE a.id = r.attempt_id AND a.token = r.token AND a.status IS NOT DISTINCT FROM 'active'
  RETURNING a.id, r.token, a.task_id, r.result
), applied AS (
  UPDATE tasks t SET status = 'succeeded', result = e.result, progress = 1, finished_at = now()
  FROM ended e WHERE t.id = e.task_id
  RETURNING t.id
), outcome AS MATERIALIZED (
  -- A join, not a subquery per report: a batch of a thousand must not cost a million comparisons.
  SELECT r.attempt_id, e.id IS NOT NULL AS accepted
  FROM r LEFT JOIN ended e ON e.id = r.attempt_id AND e.token = r.token
), refused AS (
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'refusals', 'report.refused', o.attempt_id::text,
         jsonb_build_object('report', 'result', 'attemptId', o.attempt_id::text)
  FROM outcome o WHERE NOT o.accepted
)
SELECT o.attempt_id::text AS attempt_id, o.accepted FROM outcome o
