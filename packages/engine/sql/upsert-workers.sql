-- Registers workers by name ($1: [{name, host, tags, task_types, slots}], names distinct): the
-- same name is the same worker, kept with its id. A worker that comes back is online again,
-- unless an operator disabled it. Many hellos arriving together are one statement.
INSERT INTO workers (name, host, tags, task_types, slots, state, last_seen_at)
SELECT r.name, r.host, ARRAY(SELECT jsonb_array_elements_text(r.tags)),
       ARRAY(SELECT jsonb_array_elements_text(r.task_types)), r.slots, 'online', now()
FROM jsonb_to_recordset($1::jsonb) AS r(name text, host text, tags jsonb, task_types jsonb, slots int)
ON CONFLICT (name) DO UPDATE SET
  host = excluded.host, tags = excluded.tags, task_types = excluded.task_types, slots = excluded.slots,
  state = CASE WHEN workers.state = 'disabled' THEN 'disabled' ELSE 'online' END,
  last_seen_at = now()
RETURNING workers.name, worker_json(workers) AS worker, (xmax = 0) AS created
