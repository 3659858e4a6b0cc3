-- Task types as their workers describe them: the JSON Schema of their params, against which
-- submissions are checked and from which the dashboard draws its forms. The last worker to say
-- hello with a type sets its schema.
CREATE TABLE task_types (
  name text PRIMARY KEY,
  params_schema jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A worker's record tells how many of its slots are in use: its active attempts.
CREATE OR REPLACE FUNCTION worker_json(w workers) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', w.id, 'name', w.name, 'host', w.host, 'tags', to_jsonb(w.tags),
    'taskTypes', to_jsonb(w.task_types), 'slots', w.slots,
    'running', (SELECT count(*)::int FROM attempts a WHERE a.worker_id = w.id AND a.status = 'active'),
    'state', w.state, 'stats', w.stats, 'lastSeenAt', w.last_seen_at, 'createdAt', w.created_at)
$$;
