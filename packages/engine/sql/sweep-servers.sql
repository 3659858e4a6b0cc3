-- The servers silent for longer than $2 ms (never $1, the server asking) are dead: their rows go,
-- and the workers they held are offline (disabled ones stay so), each returned with the session
-- it had so that its attempts can be given up. Also workers that show connected, that no server
-- holds (left so by a version without replicas) and that were not seen for as long. SKIP LOCKED: two survivors never sweep one
-- server twice.
WITH dead AS (
  DELETE FROM servers s WHERE s.id IN (
    SELECT id FROM servers WHERE id <> $1 AND heartbeat_at < now() - $2 * interval '1 millisecond'
    ORDER BY id FOR UPDATE SKIP LOCKED)
  RETURNING s.id, s.url
), gone AS (
  UPDATE workers w SET state = CASE WHEN w.hold = 'disabled' THEN 'disabled' ELSE 'offline' END,
    server_id = NULL
  WHERE w.server_id IN (SELECT id FROM dead)
     OR (w.server_id IS NULL AND w.state IN ('online', 'draining', 'unresponsive')
         AND w.last_seen_at < now() - $2 * interval '1 millisecond')
  RETURNING w.id
)
SELECT (SELECT coalesce(jsonb_agg(d.url), '[]') FROM dead d) AS servers,
       (SELECT coalesce(jsonb_agg(g.id::text), '[]') FROM gone g) AS workers
