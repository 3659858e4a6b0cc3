-- jobs.blocklist: the workers that failed the job $1's tasks, with their failures, and whether
-- (since when) they are blocked for the job; blocked ones first.
SELECT jsonb_build_object(
  'workerId', f.worker_id, 'workerName', w.name, 'failures', f.failures,
  'blocked', f.blocked_at IS NOT NULL, 'blockedAt', f.blocked_at, 'lastFailedAt', f.last_failed_at
) AS block
FROM job_worker_failures f LEFT JOIN workers w ON w.id = f.worker_id
WHERE f.job_id = $1
ORDER BY f.blocked_at IS NULL, f.blocked_at, w.name, f.worker_id
