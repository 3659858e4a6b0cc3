-- Every task type a worker offers or has described, with its params schema (if any worker sent
-- one) and how many online workers offer it now, as the protocol's TaskTypeRecord.
WITH offered AS (
  SELECT unnest(task_types) AS name, state FROM workers
), names AS (
  SELECT name FROM offered UNION SELECT name FROM task_types
)
SELECT jsonb_build_object(
  'name', n.name, 'paramsSchema', tt.params_schema,
  'workers', (SELECT count(*) FROM offered o WHERE o.name = n.name AND o.state = 'online')
) AS task_type
FROM names n LEFT JOIN task_types tt ON tt.name = n.name
ORDER BY n.name
