-- Records a stored file for the holder of an active attempt. The attempt's row is locked, so a
-- report ending the attempt at the same moment is either before (the file is refused) or after.
-- A name the attempt already used is left alone: the caller compares the two. A stale
-- credential is refused and recorded, never applied.
WITH valid AS (
  SELECT a.id, a.task_id, a.number, t.job_id FROM attempts a JOIN tasks t ON t.id = a.task_id
  WHERE a.id = $1::text::bigint AND a.token = $2::uuid AND a.status = 'active'
  FOR SHARE OF a
), inserted AS (
  INSERT INTO artifacts (job_id, task_id, attempt_id, attempt, name, content_type, size, sha256)
  SELECT v.job_id, v.task_id, v.id, v.number, $3, $4, $5, $6 FROM valid v
  ON CONFLICT (task_id, attempt, name) DO NOTHING
  RETURNING artifact_json(artifacts) AS artifact
), refused AS (
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'refusals', 'report.refused', $1::text, jsonb_build_object('report', 'artifact', 'attemptId', $1::text)
  WHERE NOT EXISTS (SELECT 1 FROM valid)
)
SELECT EXISTS (SELECT 1 FROM valid) AS accepted, (SELECT artifact FROM inserted) AS artifact,
       (SELECT task_id::text FROM valid) AS task_id, (SELECT number FROM valid) AS attempt
