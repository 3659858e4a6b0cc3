-- jobs.update, after the job's row is locked (lock-job.sql): its tasks still waiting (queued or
-- blocked) take the new attempts ($2), timeout ($3) and priority ($4), each NULL to keep it.
-- Held tasks keep what they started with. Blocked tasks are only ever locked under their job's
-- lock, which is held; a queued task locked by someone else is being claimed or cancelled, so it
-- is skipped rather than waited for (waiting on it under the job's lock could deadlock with that
-- claim). A task that has had as many attempts as $2 still gets the one it waits for, and a later
-- retry gives $2 again (attempt_budget).
UPDATE tasks SET
  max_attempts = CASE WHEN $2::int IS NULL THEN max_attempts ELSE greatest($2::int, attempt + 1) END,
  attempt_budget = CASE WHEN $2::int IS NULL THEN attempt_budget ELSE $2::int END,
  timeout_ms = coalesce($3::int, timeout_ms),
  priority = coalesce($4::int, priority)
WHERE id IN (
  SELECT id FROM tasks WHERE job_id = $1 AND status IN ('queued', 'blocked')
  FOR UPDATE SKIP LOCKED
)
RETURNING id
