-- Replica $1 holds these blobs ($2, sha256s): recorded, or their time refreshed. Nothing while
-- the replica has no row (its peers took it for dead): it records its whole store again when it
-- registers again.
INSERT INTO blob_locations (sha256, server_id)
SELECT DISTINCT s.sha256, $1::uuid FROM unnest($2::text[]) AS s(sha256)
WHERE EXISTS (SELECT 1 FROM servers WHERE id = $1::uuid)
ON CONFLICT (sha256, server_id) DO UPDATE SET stored_at = now()
