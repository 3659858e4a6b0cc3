-- A server joins the farm ($1 id, $2 url, $3 host, $4 pid), or comes back under its id after its
-- peers had taken it for dead.
INSERT INTO servers (id, url, host, pid) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET url = excluded.url, heartbeat_at = now()
