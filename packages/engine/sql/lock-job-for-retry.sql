-- The first step of a retry: the job's row, locked, and whether a cancel is still stopping its
-- tasks (some, held by workers, are marked to stop: then the retry is refused). Otherwise a
-- cancel reason left by a cancel is cleared, or the tasks trigger would cancel the retried tasks
-- again as they enter the queue.
WITH j AS (
  SELECT id, cancel_reason IS NOT NULL AND EXISTS (
           SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.cancel_requested
             AND t.status IN ('leased', 'running')) AS cancelling
  FROM jobs WHERE id = $1 FOR UPDATE
), cleared AS (
  UPDATE jobs SET cancel_reason = NULL
  FROM j WHERE jobs.id = j.id AND NOT j.cancelling AND jobs.cancel_reason IS NOT NULL
)
SELECT cancelling FROM j
