SELECT job_json(j) AS job, j.submission_hash
FROM jobs j WHERE j.group_name = $1 AND j.idempotency_key = $2
