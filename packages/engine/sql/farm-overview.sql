-- The farm now: its queue, what runs, its workers by state, and the tasks that finished in the
-- last minute and failed in the last hour. Each figure reads an index, never the tasks table.
SELECT jsonb_build_object(
  'at', statement_timestamp(),
  'queued', q.queued, 'blocked', q.blocked,
  'running', (SELECT count(*) FROM attempts a WHERE a.status = 'active'),
  'workersBusy', (SELECT count(DISTINCT a.worker_id) FROM attempts a WHERE a.status = 'active'),
  'workerStates', (SELECT coalesce(jsonb_object_agg(s.state, s.n), '{}')
                     FROM (SELECT w.state, count(*) AS n FROM workers w GROUP BY w.state) s),
  'lastMinute', (SELECT jsonb_build_object(
                   'succeeded', count(*) FILTER (WHERE t.status = 'succeeded'),
                   'failed', count(*) FILTER (WHERE t.status = 'failed'))
                 FROM tasks t WHERE t.finished_at >= statement_timestamp() - interval '1 minute'),
  'failedLastHour', (SELECT count(*) FROM tasks t
                     WHERE t.finished_at >= statement_timestamp() - interval '1 hour'
                       AND t.status = 'failed')
) AS overview
FROM (SELECT coalesce(sum(j.queued_count), 0) AS queued, coalesce(sum(j.blocked_count), 0) AS blocked
        FROM jobs j WHERE j.status IN ('queued', 'running')) q
