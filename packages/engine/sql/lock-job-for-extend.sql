-- The job jobs.extend adds to, locked for the rest of the transaction (after group-pause-of-job.sql),
-- with what it needs to judge the extension: how its first stage expands, whether a later stage
-- has begun (then the extension would come too late for it), and the settings of the last task
-- of its first stage, which new tasks take unless the extension gives its own.
SELECT j.task_count, j.expansion, j.frame_first, j.frame_last, j.params,
       j.cancel_reason IS NOT NULL AS cancelled,
       EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.stage > 0 AND t.status <> 'blocked')
         AS later_stage_begun,
       l.task_type, l.tags, l.max_attempts, l.timeout_ms, l.backoff_initial_ms, l.backoff_max_ms
FROM jobs j
CROSS JOIN LATERAL (
  SELECT t.task_type, to_jsonb(t.tags) AS tags, t.max_attempts, t.timeout_ms,
         t.backoff_initial_ms, t.backoff_max_ms
  FROM tasks t WHERE t.job_id = j.id AND t.stage = 0 ORDER BY t.idx DESC LIMIT 1
) AS l
WHERE j.id = $1
FOR UPDATE OF j
