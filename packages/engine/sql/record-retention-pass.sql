-- A pass ended: what it deleted, and its time on replica $1; returns the pass's id. The 1,000
-- newest passes are kept.
WITH recorded AS (
  INSERT INTO retention_passes (server_id, scheduled, started_at, jobs, tasks, events, artifacts, blobs, bytes)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  RETURNING id
), trimmed AS (
  DELETE FROM retention_passes WHERE id <= (SELECT id FROM recorded) - 1000
)
SELECT id::text AS id FROM recorded
