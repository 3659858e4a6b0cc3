SELECT artifact_json(a) AS artifact FROM artifacts a WHERE a.id = $1::uuid
