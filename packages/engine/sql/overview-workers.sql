-- The connected workers (any state but offline), by name, up to $1, each with the tasks it runs
-- now: their job, progress and when the attempt started. A worker's attempts are found through
-- the index of active attempts.
SELECT jsonb_build_object(
  'id', w.id, 'name', w.name, 'host', w.host, 'state', w.state, 'slots', w.slots,
  'lastSeenAt', w.last_seen_at,
  'tasks', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
             'taskId', t.id::text, 'index', t.idx, 'jobId', j.id, 'jobName', j.name,
             'group', j.group_name, 'taskType', t.task_type, 'status', t.status,
             'attempt', a.number, 'progress', least(1, greatest(0, t.progress)),
             'message', t.message, 'startedAt', a.started_at) ORDER BY a.started_at, a.id)
    FROM attempts a JOIN tasks t ON t.id = a.task_id JOIN jobs j ON j.id = t.job_id
    WHERE a.worker_id = w.id AND a.status = 'active'), '[]'::jsonb)
) AS worker
FROM workers w
WHERE w.state <> 'offline'
ORDER BY w.name
LIMIT $1
