-- Extends the leases of the active attempts whose id and token match; the rest are stale.
--
-- Attempts are found by primary key: `status IS NOT DISTINCT FROM 'active'`, not `=`, so that the
-- planner cannot read the partial indexes of active attempts instead. Those keep an entry for
-- every attempt that was active since the last vacuum, and a bitmap scan reads them all: 25,000
-- completions in, each batch of results read 25,000 entries to find its 50.
WITH r AS (
  SELECT * FROM unnest($1::bigint[], $2::uuid[]) AS r(attempt_id, token)
)
UPDATE attempts a SET lease_expires_at = now() + $3 * interval '1 millisecond'
FROM r WHERE a.id = r.attempt_id AND a.token = r.token AND a.status IS NOT DISTINCT FROM 'active'
RETURNING a.id::text AS attempt_id, a.lease_expires_at
