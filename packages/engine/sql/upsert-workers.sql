-- Registers workers by name ($1: [{name, host, tags, task_types, slots}], names distinct) as
-- connected to server $2: the same name is the same worker, kept with its id. A worker that comes
-- back takes the state its operator's hold says (draining, disabled), else online, and a new
-- session. Many hellos arriving together are one statement.
INSERT INTO workers (name, host, tags, task_types, slots, state, last_seen_at, server_id, session)
SELECT r.name, r.host, ARRAY(SELECT jsonb_array_elements_text(r.tags)),
       ARRAY(SELECT jsonb_array_elements_text(r.task_types)), r.slots, 'online', now(), $2::uuid, 1
FROM jsonb_to_recordset($1::jsonb) AS r(name text, host text, tags jsonb, task_types jsonb, slots int)
ON CONFLICT (name) DO UPDATE SET
  host = excluded.host, tags = excluded.tags, task_types = excluded.task_types, slots = excluded.slots,
  state = coalesce(workers.hold, 'online'),
  last_seen_at = now(), server_id = excluded.server_id, session = workers.session + 1
RETURNING workers.name, worker_json(workers) AS worker, workers.session::text AS session,
          (xmax = 0) AS created
