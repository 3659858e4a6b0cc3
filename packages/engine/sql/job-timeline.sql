-- A job's attempts, the latest $2 by start, with the names of their workers: its timeline. The
-- attempts are chosen first and only those are given a name and made into JSON.
SELECT jsonb_build_object(
  'id', a.id::text, 'taskId', a.task_id::text, 'index', a.idx, 'number', a.number,
  'workerId', a.worker_id, 'workerName', coalesce(w.name, a.worker_id::text),
  'status', a.status, 'startedAt', a.started_at, 'finishedAt', a.finished_at
) AS attempt
FROM (
  SELECT a.id, a.task_id, t.idx, a.number, a.worker_id, a.status, a.started_at, a.finished_at
  FROM tasks t
  JOIN attempts a ON a.task_id = t.id
  WHERE t.job_id = $1
  ORDER BY a.started_at DESC, a.id DESC
  LIMIT $2
) a
LEFT JOIN workers w ON w.id = a.worker_id
ORDER BY a.started_at DESC, a.id DESC
