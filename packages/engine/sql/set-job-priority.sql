-- The last step of jobs.update (and jobs.setPriority) when it changes the priority: the job
-- itself, whose row the first step locked.
UPDATE jobs j SET priority = $2, updated_at = now() WHERE j.id = $1 RETURNING job_json(j) AS job
