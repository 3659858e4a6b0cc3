-- A server's heartbeat; no row back means its peers took it for dead and released its workers.
UPDATE servers SET heartbeat_at = now() WHERE id = $1 RETURNING id::text AS id
