-- Retention: finished jobs older than the cut-off go, with their stages, tasks, attempts and
-- events. In batches, oldest first, so one call never holds locks for long.
DELETE FROM jobs WHERE id IN (
  SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < now() - $1 * interval '1 millisecond'
  ORDER BY finished_at LIMIT $2
)
RETURNING id::text AS id
