-- The last step of a priority change: the job itself, whose row the first step locked.
UPDATE jobs j SET priority = $2, updated_at = now() WHERE j.id = $1 RETURNING job_json(j) AS job
