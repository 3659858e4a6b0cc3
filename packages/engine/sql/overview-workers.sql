-- The connected workers (any state but offline), by name, up to $1, each with the tasks it runs
-- now: their job, progress and when the attempt started. The active attempts are read once
-- through their partial index and each one's task by primary key: the subquery kept apart
-- (OFFSET 0) so that no plan hashes the whole tasks table to join a thousand rows. A worker's
-- tasks are put in order by the engine: an ordered aggregate would sort once per worker.
WITH running AS (
  SELECT a.worker_id,
         jsonb_agg(jsonb_build_object(
           'taskId', t.id::text, 'index', t.idx, 'jobId', j.id, 'jobName', j.name,
           'group', j.group_name, 'taskType', t.task_type, 'status', t.status,
           'attempt', a.number, 'progress', least(1, greatest(0, t.progress)),
           'message', t.message, 'startedAt', a.started_at)) AS tasks
  FROM attempts a
  CROSS JOIN LATERAL (
    SELECT t.id, t.idx, t.job_id, t.task_type, t.status, t.progress, t.message
    FROM tasks t WHERE t.id = a.task_id OFFSET 0
  ) t
  JOIN jobs j ON j.id = t.job_id
  WHERE a.status = 'active'
  GROUP BY a.worker_id
)
SELECT jsonb_build_object(
  'id', w.id, 'name', w.name, 'host', w.host, 'state', w.state, 'slots', w.slots,
  'lastSeenAt', w.last_seen_at, 'tasks', coalesce(r.tasks, '[]'::jsonb)
) AS worker
FROM workers w
LEFT JOIN running r ON r.worker_id = w.id
WHERE w.state <> 'offline'
ORDER BY w.name
LIMIT $1
