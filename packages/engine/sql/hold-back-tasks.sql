-- A pause, under the job's lock (or its group's jobs' locks): the waiting tasks of the jobs $1 go
-- to the back of their queue (tasks.held_back, migration 0012), so that claims do not read past
-- them. Blocked tasks are only ever locked under their job's lock, which is held; a queued task
-- locked by someone else is being claimed or cancelled, so it is skipped rather than waited for
-- (waiting on it under the job's lock could deadlock with that claim). The hint only orders the
-- walk: a task it misses is still skipped by the claim, for its job's row says it is paused.
UPDATE tasks SET held_back = true
WHERE id IN (
  SELECT id FROM tasks
  WHERE job_id = ANY ($1::uuid[]) AND status IN ('queued', 'blocked') AND NOT held_back
  FOR UPDATE SKIP LOCKED
)
