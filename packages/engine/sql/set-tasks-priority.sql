-- The first step of a priority change: the job's tasks still waiting (queued or blocked).
-- Tasks first, then the job: the lock order every statement keeps.
WITH t AS (
  UPDATE tasks SET priority = $2 WHERE job_id = $1 AND status IN ('queued', 'blocked') RETURNING 1
)
SELECT count(*)::int AS changed FROM t
