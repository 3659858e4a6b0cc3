-- Every task type a worker offers or has described, with its params schema (if any worker sent
-- one), how many online workers offer it now, and its limit (taskTypes.setLimits), as the
-- protocol's TaskTypeRecord.
WITH offered AS (
  SELECT unnest(task_types) AS name, state FROM workers
), names AS (
  SELECT name FROM offered UNION SELECT name FROM task_types UNION SELECT task_type FROM task_type_limits
)
SELECT jsonb_build_object(
  'name', n.name, 'paramsSchema', tt.params_schema,
  'workers', (SELECT count(*) FROM offered o WHERE o.name = n.name AND o.state = 'online'),
  'maxRunning', l.max_running
) AS task_type
FROM names n LEFT JOIN task_types tt ON tt.name = n.name
LEFT JOIN task_type_limits l ON l.task_type = n.name
ORDER BY n.name
