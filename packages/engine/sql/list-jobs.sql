-- A group's jobs, newest first, optionally of some statuses. A page continues after the last
-- job of the one before: created before it, or at the same moment with a smaller id.
SELECT job_json(j) AS job FROM jobs j
WHERE j.group_name = $1 AND ($2::text[] IS NULL OR j.status = ANY ($2))
  AND ($3::timestamptz IS NULL OR j.created_at < $3 OR (j.created_at = $3 AND j.id < $5::uuid))
ORDER BY j.created_at DESC, j.id DESC
LIMIT $4
