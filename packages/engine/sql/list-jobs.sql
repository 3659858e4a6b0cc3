-- A group's jobs, newest first, optionally of some statuses; pages continue before a creation time.
SELECT job_json(j) AS job FROM jobs j
WHERE j.group_name = $1 AND ($2::text[] IS NULL OR j.status = ANY ($2))
  AND ($3::timestamptz IS NULL OR j.created_at < $3)
ORDER BY j.created_at DESC, j.id
LIMIT $4
