-- Log lines from the holders of active attempts, one event per batch of one attempt on the
-- task's log topic. Lines with a stale token are refused and recorded, never applied.
--
-- Attempts are found by primary key: `status IS NOT DISTINCT FROM 'active'`, not `=`, so that the
-- planner cannot read the partial indexes of active attempts instead. Those keep an entry for
-- every attempt that was active since the last vacuum, and a bitmap scan reads them all: 25,000
-- completions in, each batch of results read 25,000 entries to find its 50.
WITH r AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(attempt_id bigint, token uuid, lines jsonb)
), valid AS (
  SELECT a.id, r.token, a.task_id, a.number, t.job_id, r.lines FROM r
  JOIN attempts a ON a.id = r.attempt_id AND a.token = r.token AND a.status IS NOT DISTINCT FROM 'active'
  JOIN tasks t ON t.id = a.task_id
), logged AS (
  INSERT INTO events (topic, kind, subject, job_id, data)
  SELECT 'task/' || v.task_id || '/log', 'task.log', v.task_id::text, v.job_id,
         jsonb_build_object('taskId', v.task_id::text, 'attempt', v.number, 'lines', v.lines)
  FROM valid v ORDER BY v.id
), outcome AS MATERIALIZED (
  -- A join, not a subquery per report: a batch of a thousand must not cost a million comparisons.
  SELECT r.attempt_id, v.id IS NOT NULL AS accepted
  FROM r LEFT JOIN valid v ON v.id = r.attempt_id AND v.token = r.token
), refused AS (
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'refusals', 'report.refused', o.attempt_id::text,
         jsonb_build_object('report', 'log', 'attemptId', o.attempt_id::text)
  FROM outcome o WHERE NOT o.accepted
)
SELECT o.attempt_id::text AS attempt_id, o.accepted FROM outcome o
