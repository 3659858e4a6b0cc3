-- One connection of a worker closed ($2: its session): the worker is offline (or still shows
-- disabled) and held by no server, unless a newer session holds it already.
UPDATE workers SET state = CASE WHEN hold = 'disabled' THEN 'disabled' ELSE 'offline' END,
  server_id = NULL
WHERE id = $1 AND session = $2::bigint
RETURNING worker_json(workers) AS worker
