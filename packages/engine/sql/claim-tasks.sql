-- Up to $4 queued tasks for one online worker: of its task types, whose tags it all has, by
-- priority, then run-at, then submission order. Each opens an attempt with a fresh lease.
-- The queue index is walked once per task type, in order, so a claim reads about $4 rows per type
-- however long the queue is; SKIP LOCKED lets claimers run side by side without waiting on (or
-- taking) each other's tasks.
WITH worker AS (
  SELECT id FROM workers WHERE id = $1 AND state = 'online'
), picked AS (
  SELECT c.id, c.priority, c.run_at FROM worker, unnest($2::text[]) AS tt(task_type)
  CROSS JOIN LATERAL (
    SELECT t.id, t.priority, t.run_at FROM tasks t
    WHERE t.task_type = tt.task_type AND t.status = 'queued' AND t.run_at <= now()
      AND t.tags <@ $3::text[]
      -- Not the tasks of a job whose cancel has begun (see cancel-tasks.sql). A scalar subquery,
      -- checked per candidate: as NOT EXISTS the planner may make it an anti-join that reads
      -- the whole queue instead of walking the index to the first few.
      AND (SELECT j.cancel_reason FROM jobs j WHERE j.id = t.job_id) IS NULL
    ORDER BY t.priority DESC, t.run_at, t.id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
  ) AS c
  ORDER BY c.priority DESC, c.run_at, c.id
  LIMIT $4
), claimed AS (
  -- The attempt's id and token are drawn here, so the attempt rows need no join back.
  UPDATE tasks t SET status = 'leased', attempt = t.attempt + 1, worker_id = $1,
         progress = 0, message = NULL, error = NULL,
         started_at = coalesce(t.started_at, now())
  FROM picked WHERE t.id = picked.id
  RETURNING t.id, t.attempt, t.priority, t.run_at, task_json(t) AS task,
            nextval(pg_get_serial_sequence('attempts', 'id')) AS attempt_id,
            gen_random_uuid() AS token,
            now() + $5 * interval '1 millisecond' AS lease_expires_at,
            now() + t.timeout_ms * interval '1 millisecond' AS deadline_at
), opened AS (
  INSERT INTO attempts (id, task_id, number, worker_id, token, lease_expires_at, deadline_at)
  OVERRIDING SYSTEM VALUE
  SELECT c.attempt_id, c.id, c.attempt, $1, c.token, c.lease_expires_at, c.deadline_at FROM claimed c
)
SELECT c.task, c.attempt_id::text AS attempt_id, c.token::text AS token, c.lease_expires_at, c.deadline_at
FROM claimed c
ORDER BY c.priority DESC, c.run_at, c.id
