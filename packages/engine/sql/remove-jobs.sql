-- Removes the jobs $1 that are finished, in one statement; a job not finished (a retry got to it
-- first) is left alone. The jobs_deleted triggers take their stages, tasks, attempts, events and
-- artifact records, and tell the groups' topics; each job's own topic is told here, so that a page
-- or program following the job learns it is gone.
WITH removed AS (
  DELETE FROM jobs j WHERE j.id = ANY ($1::uuid[]) AND j.finished_at IS NOT NULL
  RETURNING j.id, j.group_name, j.created_at, job_json(j) AS job
), told AS (
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'job/' || r.id, 'job.removed', r.id::text, jsonb_build_object('id', r.id, 'group', r.group_name)
  FROM removed r
)
SELECT job FROM removed ORDER BY created_at, id
