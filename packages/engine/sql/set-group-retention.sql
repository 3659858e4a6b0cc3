-- A group's own retention: $2 milliseconds, or NULL for none (its finished jobs are kept).
-- (`default`, the farm's, deletes the row: clear-group-retention.sql.)
INSERT INTO group_settings (group_name, retention_ms) VALUES ($1, $2)
ON CONFLICT (group_name) DO UPDATE SET retention_ms = EXCLUDED.retention_ms, updated_at = now()
