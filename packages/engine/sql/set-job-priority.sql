-- The second step of a priority change, in the same transaction: the job.
UPDATE jobs j SET priority = $2, updated_at = now() WHERE j.id = $1 RETURNING job_json(j) AS job
