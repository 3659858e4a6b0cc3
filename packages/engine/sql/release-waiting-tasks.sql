-- The last step of a resume, under the jobs' locks: their blocked tasks, and queued ones held
-- back since the first step (released from a stage meanwhile), take their place in the queue
-- again. Blocked tasks are only ever locked under their job's lock, which is held; a queued one
-- locked by someone else is skipped (see hold-back-tasks.sql): at worst it is walked last.
UPDATE tasks SET held_back = false
WHERE id IN (
  SELECT id FROM tasks
  WHERE job_id = ANY ($1::uuid[]) AND status IN ('queued', 'blocked') AND held_back
  FOR UPDATE SKIP LOCKED
)
