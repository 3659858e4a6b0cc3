-- The artifact an attempt stored under a name.
SELECT artifact_json(a) AS artifact FROM artifacts a
WHERE a.task_id = $1::text::bigint AND a.attempt = $2 AND a.name = $3
