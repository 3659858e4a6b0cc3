-- Replicas and worker liveness.
--
-- Every server registers here and heartbeats. A replica silent for longer than its peers allow is
-- dead: a survivor deletes its row, marks the workers it held offline and requeues their tasks
-- (sql/sweep-servers.sql). `url` is where the other replicas reach it.
CREATE TABLE servers (
  id uuid PRIMARY KEY,
  url text NOT NULL,
  host text NOT NULL,
  pid int NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- A worker's connection: the replica that holds it (none while offline) and its session, a number
-- each hello raises. A change made for one connection names its session, so the cleanup of an
-- older connection never overrides what a newer hello wrote.
--
-- `hold` is an operator's standing order, kept across reconnects and restarts: `draining` (take
-- nothing new) or `disabled`. `state` is what the worker is now, `unresponsive` while a connected
-- worker's heartbeats have stopped arriving.
ALTER TABLE workers
  ADD COLUMN server_id uuid,
  ADD COLUMN session bigint NOT NULL DEFAULT 0,
  ADD COLUMN hold text CHECK (hold IN ('draining', 'disabled'));
UPDATE workers SET hold = 'disabled' WHERE state = 'disabled';
ALTER TABLE workers DROP CONSTRAINT workers_state_check;
ALTER TABLE workers ADD CONSTRAINT workers_state_check
  CHECK (state IN ('online', 'offline', 'disabled', 'draining', 'unresponsive'));
CREATE INDEX workers_server ON workers (server_id) WHERE server_id IS NOT NULL;

-- A worker's record shows its hold, and a change of hold is an event like a change of state.
CREATE OR REPLACE FUNCTION worker_json(w workers) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', w.id, 'name', w.name, 'host', w.host, 'tags', to_jsonb(w.tags),
    'taskTypes', to_jsonb(w.task_types), 'slots', w.slots,
    'running', (SELECT count(*)::int FROM attempts a WHERE a.worker_id = w.id AND a.status = 'active'),
    'state', w.state, 'hold', w.hold, 'stats', w.stats, 'lastSeenAt', w.last_seen_at,
    'createdAt', w.created_at)
$$;
CREATE OR REPLACE FUNCTION workers_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'workers', 'worker.updated', n.id::text, worker_json(n)
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE (n.name, n.host, n.tags, n.task_types, n.slots, n.state, n.hold)
        IS DISTINCT FROM (o.name, o.host, o.tags, o.task_types, o.slots, o.state, o.hold);
  RETURN NULL;
END
$$;
