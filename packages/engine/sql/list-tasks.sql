-- A job's tasks in index order, from an index on.
SELECT task_json(t) AS task FROM tasks t
WHERE t.job_id = $1 AND t.idx >= $2
ORDER BY t.idx
LIMIT $3
