UPDATE workers SET state = $2, last_seen_at = CASE WHEN $2 = 'offline' THEN last_seen_at ELSE now() END
WHERE id = $1
RETURNING worker_json(workers) AS worker
