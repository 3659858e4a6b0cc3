-- Registers a worker by name: the same name is the same worker, kept with its id. A worker that
-- comes back is online again, unless an operator disabled it.
INSERT INTO workers (name, host, tags, task_types, slots, state, last_seen_at)
VALUES ($1, $2, $3::text[], $4::text[], $5, 'online', now())
ON CONFLICT (name) DO UPDATE SET
  host = excluded.host, tags = excluded.tags, task_types = excluded.task_types, slots = excluded.slots,
  state = CASE WHEN workers.state = 'disabled' THEN 'disabled' ELSE 'online' END,
  last_seen_at = now()
RETURNING worker_json(workers) AS worker, (xmax = 0) AS created
