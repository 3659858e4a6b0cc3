-- taskTypes.setLimits: at most $2 tasks of type $1 leased or running at once, or no limit when
-- $2 is null, set by $3. Wakes the dispatchers: a limit raised or lifted may let tasks start.
WITH upserted AS (
  INSERT INTO task_type_limits AS l (task_type, max_running, updated_by)
  SELECT $1, $2::int, $3 WHERE $2::int IS NOT NULL
  ON CONFLICT (task_type) DO UPDATE SET
    max_running = excluded.max_running, updated_at = now(), updated_by = excluded.updated_by
), removed AS (
  DELETE FROM task_type_limits WHERE task_type = $1 AND $2::int IS NULL
)
SELECT jsonb_build_object('taskType', $1::text, 'maxRunning', $2::int) AS limits,
       pg_notify(current_schema() || '_events', 'queue')
