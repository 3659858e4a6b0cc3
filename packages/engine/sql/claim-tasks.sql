-- One claim for many workers: $1 is a JSON array of groups of workers that can run the same
-- tasks, with their free slots (see claim_choice in migration 0007, which chooses the tasks and
-- locks them); $2 is the lease in milliseconds. Each chosen task is leased to its worker and
-- opens an attempt with a fresh lease.
--
-- The queue index is walked once per group and task type, reading about as many rows as there are
-- slots however long the queue is; SKIP LOCKED lets dispatchers on several servers run side by
-- side without waiting on (or taking) each other's tasks.
WITH matched AS (
  SELECT c.task_id AS id, c.worker_id FROM claim_choice($1::jsonb) AS c
), claimed AS (
  -- The attempt's id and token are drawn here, so the attempt rows need no join back.
  -- A task taken sheds the queue's hint (migration 0012): if it comes back, it is walked in order.
  UPDATE tasks t SET status = 'leased', attempt = t.attempt + 1, worker_id = m.worker_id,
         held_back = false,
         progress = 0, message = NULL, error = NULL,
         started_at = coalesce(t.started_at, now())
  FROM matched m WHERE t.id = m.id
  RETURNING t.id, t.attempt, t.priority, t.run_at, t.worker_id, task_json(t) AS task,
            nextval(pg_get_serial_sequence('attempts', 'id')) AS attempt_id,
            gen_random_uuid() AS token,
            now() + $2 * interval '1 millisecond' AS lease_expires_at,
            now() + t.timeout_ms * interval '1 millisecond' AS deadline_at
), opened AS (
  INSERT INTO attempts (id, task_id, number, worker_id, token, lease_expires_at, deadline_at)
  OVERRIDING SYSTEM VALUE
  SELECT c.attempt_id, c.id, c.attempt, c.worker_id, c.token, c.lease_expires_at, c.deadline_at
  FROM claimed c
)
SELECT c.worker_id::text AS worker_id, c.task, c.attempt_id::text AS attempt_id, c.token::text AS token,
       c.lease_expires_at, c.deadline_at
FROM claimed c
ORDER BY c.priority DESC, c.run_at, c.id
