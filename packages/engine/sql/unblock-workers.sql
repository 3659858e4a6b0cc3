-- jobs.unblock: the worker $2 (every worker when null) starts afresh for the job $1: its failures
-- are forgotten and it may be offered the job's tasks again. Wakes the dispatchers.
WITH forgotten AS (
  DELETE FROM job_worker_failures WHERE job_id = $1 AND ($2::uuid IS NULL OR worker_id = $2::uuid)
  RETURNING worker_id, blocked_at
), job AS (
  UPDATE jobs j SET blocked_workers = CASE WHEN $2::uuid IS NULL THEN '{}'::uuid[]
                                           ELSE array_remove(j.blocked_workers, $2::uuid) END
  WHERE j.id = $1 AND cardinality(j.blocked_workers) > 0
)
SELECT (SELECT count(*)::int FROM forgotten WHERE blocked_at IS NOT NULL) AS unblocked,
       pg_notify(current_schema() || '_events', 'queue')
