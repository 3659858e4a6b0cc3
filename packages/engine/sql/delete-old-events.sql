-- Retention for events outside any job (workers, refusals): older than the cut-off.
DELETE FROM events WHERE id IN (
  SELECT id FROM events WHERE job_id IS NULL AND at < now() - $1 * interval '1 millisecond' LIMIT $2
)
