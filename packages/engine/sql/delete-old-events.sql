-- Retention for events outside any job (workers, refusals, news of removed jobs): up to $2 older
-- than $1 ms go; returns how many.
WITH gone AS (
  DELETE FROM events WHERE id IN (
    SELECT id FROM events WHERE job_id IS NULL AND at < now() - $1 * interval '1 millisecond' LIMIT $2
  )
  RETURNING 1
)
SELECT count(*)::int AS events FROM gone
