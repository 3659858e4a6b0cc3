-- An operator's order for workers ($1: their ids; $2: draining, disabled, or null to enable them),
-- kept until the next order. The state follows at once: a worker that is not connected stays
-- offline (or shows disabled); one that is connected takes the hold's state, or online when
-- enabled. Connected is held by a server, or showing a connected state (a worker registered
-- through the engine alone).
UPDATE workers SET hold = $2::text,
  state = CASE
    WHEN $2::text = 'disabled' THEN 'disabled'
    WHEN server_id IS NULL AND state IN ('offline', 'disabled') THEN 'offline'
    WHEN state = 'unresponsive' THEN 'unresponsive'
    ELSE coalesce($2::text, 'online') END
WHERE id = ANY ($1::uuid[])
RETURNING workers.name, worker_json(workers) AS worker
