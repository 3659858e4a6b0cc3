-- Puts a job's failed and cancelled tasks back ($1 the job): each gets as many attempts again as
-- it was submitted with, numbered on from its last, at the job's priority now (held back in the
-- queue while the job is paused: migration 0012), and its times
-- start again. A task whose previous stage has not all
-- succeeded waits for it again (blocked); the others are queued at once. The job's row is locked
-- by the caller, and no attempt of these tasks is active, so nothing else changes them meanwhile.
UPDATE tasks t SET
  status = CASE
    WHEN t.stage = 0 OR EXISTS (
      SELECT 1 FROM job_stages s
      WHERE s.job_id = t.job_id AND s.stage = t.stage - 1 AND s.succeeded_count = s.task_count)
    THEN 'queued' ELSE 'blocked' END,
  attempt_budget = coalesce(t.attempt_budget, t.max_attempts),
  max_attempts = t.attempt + coalesce(t.attempt_budget, t.max_attempts),
  priority = (SELECT j.priority FROM jobs j WHERE j.id = t.job_id),
  held_back = (SELECT j.paused OR j.group_paused FROM jobs j WHERE j.id = t.job_id),
  run_at = now(), progress = 0, message = NULL, result = NULL, error = NULL,
  cancel_requested = false, worker_id = NULL, started_at = NULL, finished_at = NULL
WHERE t.job_id = $1 AND t.status IN ('failed', 'cancelled')
RETURNING t.id::text AS id
