-- A priority change, in one transaction: the job's row first (locked by the caller), then its
-- tasks still waiting. Blocked tasks are only ever locked under their job's lock, which is held;
-- a queued task locked by someone else is being claimed or cancelled, so it is skipped rather
-- than waited for (waiting on it under the job's lock could deadlock with that claim).
UPDATE tasks SET priority = $2
WHERE id IN (
  SELECT id FROM tasks WHERE job_id = $1 AND status IN ('queued', 'blocked')
  FOR UPDATE SKIP LOCKED
)
