-- Up to $4 queued tasks for one online worker: of its task types, whose tags it all has, by
-- priority, then run-at, then submission order. Each opens an attempt with a fresh lease.
-- SKIP LOCKED lets claimers run side by side without waiting on (or taking) each other's tasks.
WITH worker AS (
  SELECT id FROM workers WHERE id = $1 AND state = 'online'
), picked AS (
  SELECT t.id FROM tasks t
  WHERE t.status = 'queued' AND t.run_at <= now()
    AND t.task_type = ANY ($2::text[]) AND t.tags <@ $3::text[]
    AND EXISTS (SELECT 1 FROM worker)
  ORDER BY t.priority DESC, t.run_at, t.id
  LIMIT $4
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE tasks t SET status = 'leased', attempt = t.attempt + 1, worker_id = $1,
         progress = 0, message = NULL, error = NULL,
         started_at = coalesce(t.started_at, now())
  FROM picked WHERE t.id = picked.id
  RETURNING t.*
), opened AS (
  INSERT INTO attempts (task_id, number, worker_id, token, lease_expires_at, deadline_at)
  SELECT c.id, c.attempt, $1, gen_random_uuid(), now() + $5 * interval '1 millisecond',
         now() + c.timeout_ms * interval '1 millisecond'
  FROM claimed c
  RETURNING id, task_id, token, lease_expires_at, deadline_at
)
SELECT task_json(c::tasks) AS task, o.id::text AS attempt_id, o.token::text AS token,
       o.lease_expires_at, o.deadline_at
FROM claimed c JOIN opened o ON o.task_id = c.id
ORDER BY c.priority DESC, c.run_at, c.id
