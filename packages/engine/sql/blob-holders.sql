-- The replicas other than $2 that hold blob $1, where they are reached, the most recently heard
-- from first.
SELECT s.id::text AS server_id, s.url FROM blob_locations l JOIN servers s ON s.id = l.server_id
WHERE l.sha256 = $1 AND s.id <> $2::uuid AND s.url <> ''
ORDER BY s.heartbeat_at DESC, s.id
