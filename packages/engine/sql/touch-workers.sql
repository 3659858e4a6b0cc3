-- Heartbeats: last seen now, with the host's stats when given.
WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, stats jsonb))
UPDATE workers w SET last_seen_at = now(), stats = coalesce(r.stats, w.stats)
FROM r WHERE w.id = r.id
RETURNING w.id::text AS id
