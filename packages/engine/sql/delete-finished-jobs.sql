-- Retention: finished jobs older than the cut-off go, with their stages, tasks, attempts and
-- events. In batches, oldest first, so one call never holds locks for long. Each job's own topic
-- is told, as when a user removes it.
WITH removed AS (
  DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < now() - $1 * interval '1 millisecond'
    ORDER BY finished_at LIMIT $2
  )
  RETURNING id, group_name
), told AS (
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'job/' || r.id, 'job.removed', r.id::text, jsonb_build_object('id', r.id, 'group', r.group_name)
  FROM removed r
)
SELECT id::text AS id FROM removed
