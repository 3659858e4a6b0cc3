-- Webhooks: an HTTP POST to a receiver when a job ends or a worker is lost (decision 0038).
--
-- The secret is the receiver's key for checking the Drover-Signature header, so it is kept as
-- given (a hash could not sign). Only the engine reads this table; webhook_json leaves it out.
-- `group_name` is a group's name, or '*' for every group.
CREATE TABLE webhooks (
  id text PRIMARY KEY,
  group_name text NOT NULL,
  url text NOT NULL,
  secret text NOT NULL,
  events text[] NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text
);

-- The outbox: one row per notification per webhook, written in the same transaction as the
-- change it tells of (the triggers below), so a crash never loses one. A server takes due rows
-- with FOR UPDATE SKIP LOCKED and pushes `due_at` past its try (a lease): a server that dies
-- mid-try leaves the row to be taken again once that passes.
--   pending    to be tried at due_at (tries so far in `tries`);
--   delivered  the receiver answered 2xx;
--   failed     the receiver refused it (4xx but 408 and 429), or the last try failed.
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event text NOT NULL,
  subject text NOT NULL,
  data jsonb NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  tries int NOT NULL DEFAULT 0,
  due_at timestamptz NOT NULL DEFAULT now(),
  last_status int,
  last_error text,
  last_try_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at DESC);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE state <> 'pending';

-- A job's end, once per time it ends (a retried job that ends again tells again), to the enabled
-- webhooks of its group or of every group that hear that status. Wakes the deliverers.
CREATE FUNCTION jobs_ended_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_deliveries (webhook_id, event, subject, data)
  SELECT h.id, 'job.' || NEW.status, NEW.id::text, jsonb_build_object('job', job_json(NEW))
  FROM webhooks h
  WHERE h.enabled AND ('job.' || NEW.status) = ANY (h.events)
    AND (h.group_name = '*' OR h.group_name = NEW.group_name);
  IF FOUND THEN PERFORM pg_notify(current_schema() || '_events', 'webhooks'); END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_ended_webhooks AFTER UPDATE OF status ON jobs FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('succeeded', 'failed', 'cancelled'))
  EXECUTE FUNCTION jobs_ended_webhooks();

-- A worker lost: offline straight from online or unresponsive (its connection closed, or its
-- server died), never from draining, which is a worker leaving as asked. Every group's webhooks
-- hear it: a worker serves them all.
CREATE FUNCTION workers_lost_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_deliveries (webhook_id, event, subject, data)
  SELECT h.id, 'worker.offline', NEW.id::text, jsonb_build_object('worker', worker_json(NEW))
  FROM webhooks h
  WHERE h.enabled AND 'worker.offline' = ANY (h.events);
  IF FOUND THEN PERFORM pg_notify(current_schema() || '_events', 'webhooks'); END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER workers_lost_webhooks AFTER UPDATE OF state ON workers FOR EACH ROW
  WHEN (NEW.state = 'offline' AND OLD.state IN ('online', 'unresponsive'))
  EXECUTE FUNCTION workers_lost_webhooks();

CREATE FUNCTION webhook_delivery_json(d webhook_deliveries) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', d.id, 'webhookId', d.webhook_id, 'event', d.event, 'subject', d.subject,
    'state', d.state, 'tries', d.tries, 'status', d.last_status, 'error', d.last_error,
    'createdAt', d.created_at,
    'nextTryAt', CASE WHEN d.state = 'pending' THEN d.due_at END,
    'lastTryAt', d.last_try_at)
$$;

CREATE FUNCTION webhook_json(h webhooks) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', h.id, 'group', h.group_name, 'url', h.url, 'events', to_jsonb(h.events),
    'enabled', h.enabled, 'createdAt', h.created_at, 'createdBy', h.created_by,
    'lastDelivery', (
      SELECT jsonb_build_object('id', d.id, 'event', d.event, 'state', d.state,
        'status', d.last_status, 'at', coalesce(d.last_try_at, d.created_at))
      FROM webhook_deliveries d WHERE d.webhook_id = h.id
      ORDER BY d.created_at DESC, d.id LIMIT 1))
$$;
