-- A site's `tasks.updated` for one of this farm's site jobs ($1), its task summaries in $2: each
-- task of the job with the summary's index takes the site's status, attempt, progress, message,
-- result, error and times (never a worker: the site's workers are not this farm's). The tasks
-- trigger folds them into the job and tells this farm's subscribers, as for a local task.
-- The site's task id is kept for its log and files; a task that runs again there has its log
-- followed again.
WITH s AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS s(
    id text, index int, status text, attempt int, progress double precision, message text,
    result jsonb, error jsonb, "cancelRequested" boolean, "runAt" timestamptz,
    "startedAt" timestamptz, "finishedAt" timestamptz)
), mapped AS (
  INSERT INTO site_tasks (task_id, job_id, remote_task_id)
  SELECT t.id, t.job_id, s.id FROM s JOIN tasks t ON t.job_id = $1::uuid AND t.idx = s.index
  ON CONFLICT (task_id) DO NOTHING
), reopened AS (
  UPDATE site_tasks st SET log_done = false
  FROM s JOIN tasks t ON t.job_id = $1::uuid AND t.idx = s.index
  WHERE st.task_id = t.id AND st.log_done AND s.status NOT IN ('succeeded', 'failed', 'cancelled')
)
UPDATE tasks t SET
  status = s.status, attempt = s.attempt, progress = s.progress, message = s.message,
  result = nullif(s.result, 'null'::jsonb), error = nullif(s.error, 'null'::jsonb),
  cancel_requested = s."cancelRequested", worker_id = NULL, run_at = s."runAt",
  started_at = s."startedAt", finished_at = s."finishedAt"
FROM s WHERE t.job_id = $1::uuid AND t.idx = s.index
