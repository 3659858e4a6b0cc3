-- A job's attempts, the latest $2 by start, with the names of their workers: its timeline.
SELECT jsonb_build_object(
  'id', a.id::text, 'taskId', a.task_id::text, 'index', t.idx, 'number', a.number,
  'workerId', a.worker_id, 'workerName', coalesce(w.name, a.worker_id::text),
  'status', a.status, 'startedAt', a.started_at, 'finishedAt', a.finished_at
) AS attempt
FROM tasks t
JOIN attempts a ON a.task_id = t.id
LEFT JOIN workers w ON w.id = a.worker_id
WHERE t.job_id = $1
ORDER BY a.started_at DESC, a.id DESC
LIMIT $2
