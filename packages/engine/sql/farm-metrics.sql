-- The farm's gauges for a metrics scrape, in one statement, one row per series:
--
-- tasks:   tasks by status, group and the job's task type, summed from the counts the trigger on
--          tasks keeps on each job (0001): a scan of jobs, never of tasks. A later stage's tasks
--          (`then`) count under their job's task type.
-- queue:   tasks waiting that a worker may take now (queued, run-at come, not held back by a
--          pause), by their own task type: how many, and the age in seconds of the one waiting
--          longest since it became claimable. The partial index of queued tasks only.
-- workers: workers by state.
SELECT 'tasks' AS series, c.status AS a, j.group_name AS b, j.task_type AS c,
       sum(c.n)::float8 AS value, NULL::float8 AS age
FROM jobs j
CROSS JOIN LATERAL (VALUES
  ('queued', j.queued_count), ('blocked', j.blocked_count), ('leased', j.leased_count),
  ('running', j.running_count), ('succeeded', j.succeeded_count), ('failed', j.failed_count),
  ('cancelled', j.cancelled_count)) AS c(status, n)
GROUP BY c.status, j.group_name, j.task_type
UNION ALL
SELECT 'queue', t.task_type, NULL, NULL, count(*)::float8,
       greatest(0, extract(epoch FROM now() - min(t.run_at)))::float8
FROM tasks t
WHERE t.status = 'queued' AND t.run_at <= now() AND NOT t.held_back
GROUP BY t.task_type
UNION ALL
SELECT 'workers', w.state, NULL, NULL, count(*)::float8, NULL
FROM workers w
GROUP BY w.state
-- In a steady order, so that a scrape's series come in the same order every time.
ORDER BY 1, 3, 4, 2
