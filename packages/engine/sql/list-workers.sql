SELECT worker_json(w) AS worker FROM workers w ORDER BY w.name
