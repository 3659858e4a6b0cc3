SELECT task_json(t) AS task FROM tasks t WHERE t.id = $1
