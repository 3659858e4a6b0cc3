SELECT worker_json(w) AS worker FROM workers w WHERE w.id = $1
