SELECT attempt_json(a) AS attempt FROM attempts a WHERE a.task_id = $1 ORDER BY a.number
