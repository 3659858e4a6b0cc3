-- Replica $1 takes the farm's scheduled retention pass for $2 ms, if no replica holds it (or its
-- hold lapsed: it died mid-pass) and the last pass ended more than $3 ms ago. The row lock makes
-- two replicas asking at once take turns: the second sees the first's hold. Returns a row when
-- taken.
UPDATE farm SET retention_holder = $1, retention_until = now() + $2 * interval '1 millisecond'
WHERE (retention_holder IS NULL OR retention_until < now())
  AND (retention_last_at IS NULL OR retention_last_at < now() - $3 * interval '1 millisecond')
RETURNING true AS taken
