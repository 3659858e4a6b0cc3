-- Extends the leases of the active attempts whose id and token match; the rest are stale.
WITH r AS (
  SELECT * FROM unnest($1::bigint[], $2::uuid[]) AS r(attempt_id, token)
)
UPDATE attempts a SET lease_expires_at = now() + $3 * interval '1 millisecond'
FROM r WHERE a.id = r.attempt_id AND a.token = r.token AND a.status = 'active'
RETURNING a.id::text AS attempt_id, a.lease_expires_at
