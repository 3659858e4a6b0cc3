-- Before an upload's bytes are read: the task and job of the attempt, if the credential is the
-- lease of an active attempt. Any other credential is refused and recorded, never honoured.
WITH valid AS (
  SELECT a.id, a.task_id, a.number, t.job_id FROM attempts a JOIN tasks t ON t.id = a.task_id
  WHERE a.id = $1::text::bigint AND a.token = $2::uuid AND a.status = 'active'
), refused AS (
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'refusals', 'report.refused', $1::text, jsonb_build_object('report', 'artifact', 'attemptId', $1::text)
  WHERE NOT EXISTS (SELECT 1 FROM valid)
)
SELECT v.id::text AS attempt_id, v.task_id::text AS task_id, v.job_id::text AS job_id, v.number AS attempt
FROM valid v
