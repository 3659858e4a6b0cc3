-- Drover's first schema. Runs with search_path set to the engine's schema, so no name below is
-- qualified. Append-only: never edit a migration that has shipped; add the next number instead.
--
-- Child tables carry no foreign keys: PostgreSQL checks those row by row, which would dominate a
-- 100,000-task insert and every batched claim. Only the engine writes these tables, and it
-- removes a job's stages, tasks, attempts and events together (jobs_deleted below).

-- Jobs: what a user submitted. The counts, progress_sum and status are kept current by the
-- trigger on tasks, so reading a job never scans its tasks.
CREATE TABLE jobs (
  id uuid PRIMARY KEY,
  group_name text NOT NULL,              -- "group" is an SQL keyword
  name text NOT NULL,
  task_type text NOT NULL,
  params jsonb NOT NULL,
  priority int NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  task_count int NOT NULL,
  queued_count int NOT NULL DEFAULT 0,
  blocked_count int NOT NULL DEFAULT 0,
  leased_count int NOT NULL DEFAULT 0,
  running_count int NOT NULL DEFAULT 0,
  succeeded_count int NOT NULL DEFAULT 0,
  failed_count int NOT NULL DEFAULT 0,
  cancelled_count int NOT NULL DEFAULT 0,
  -- Sum over tasks of their progress, finished tasks counting 1: progress = progress_sum / task_count.
  progress_sum double precision NOT NULL DEFAULT 0,
  idempotency_key text,
  submission_hash text,
  cancel_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  UNIQUE (group_name, idempotency_key)
);
CREATE INDEX jobs_group_created ON jobs (group_name, created_at DESC);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- One row per stage of a job: a stage's tasks are released when every task of the stage before
-- has succeeded, which these counts tell without scanning tasks.
CREATE TABLE job_stages (
  job_id uuid NOT NULL,
  stage int NOT NULL,
  task_count int NOT NULL,
  succeeded_count int NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, stage)
);

CREATE TABLE tasks (
  -- Numbered in submission order across the farm: the last tie-breaker of a claim.
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id uuid NOT NULL,
  idx int NOT NULL,
  stage int NOT NULL,
  task_type text NOT NULL,
  params jsonb NOT NULL,
  priority int NOT NULL,
  run_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'blocked', 'leased', 'running', 'succeeded', 'failed', 'cancelled')),
  tags text[] NOT NULL,
  max_attempts int NOT NULL,
  timeout_ms int NOT NULL,
  backoff_initial_ms int NOT NULL,
  backoff_max_ms int NOT NULL,
  attempt int NOT NULL DEFAULT 0,
  progress double precision NOT NULL DEFAULT 0,
  message text,
  result jsonb,
  error jsonb,
  cancel_requested boolean NOT NULL DEFAULT false,
  worker_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
-- The claim walks this in order, one task type at a time: priority, then run-at, then submission
-- order.
CREATE INDEX tasks_queue ON tasks (task_type, priority DESC, run_at, id) WHERE status = 'queued';
CREATE INDEX tasks_job ON tasks (job_id, idx);
CREATE INDEX tasks_blocked ON tasks (job_id, stage) WHERE status = 'blocked';

-- One try of a task on one worker. Only the active attempt's token may report on the task.
CREATE TABLE attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id bigint NOT NULL,
  number int NOT NULL,
  worker_id uuid NOT NULL,
  token uuid NOT NULL,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'succeeded', 'failed', 'lost', 'timed_out', 'cancelled')),
  lease_expires_at timestamptz NOT NULL,
  deadline_at timestamptz NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  error jsonb
);
CREATE INDEX attempts_task ON attempts (task_id);
-- The reaper's scan: the earlier of lease expiry and deadline.
CREATE INDEX attempts_active_due ON attempts (least(lease_expires_at, deadline_at)) WHERE status = 'active';
CREATE INDEX attempts_active_worker ON attempts (worker_id) WHERE status = 'active';

CREATE TABLE workers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE,
  host text NOT NULL,
  tags text[] NOT NULL,
  task_types text[] NOT NULL,
  slots int NOT NULL,
  state text NOT NULL CHECK (state IN ('online', 'offline', 'disabled', 'draining')),
  stats jsonb NOT NULL DEFAULT '{}',
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The event log. An event's position is (tx, id): readers only read transactions older than
-- every transaction still running, so a cursor never skips an event that commits late.
CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
  topic text NOT NULL,
  kind text NOT NULL,
  subject text NOT NULL,
  job_id uuid,                           -- deleted with the job
  data jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_topic ON events (topic, tx, id);
CREATE INDEX events_job ON events (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX events_at ON events (at) WHERE job_id IS NULL;

-- Records as JSON, one shape for reads and for events (the protocol's JobRecord, TaskRecord, ...).

CREATE FUNCTION job_json(j jobs) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', j.id, 'group', j.group_name, 'name', j.name, 'taskType', j.task_type,
    'params', j.params, 'status', j.status, 'priority', j.priority,
    'progress', CASE WHEN j.task_count = 0 THEN 0
                     ELSE least(1, greatest(0, round((j.progress_sum / j.task_count)::numeric, 6))) END,
    'taskCount', j.task_count,
    'counts', jsonb_build_object(
      'queued', j.queued_count, 'blocked', j.blocked_count, 'leased', j.leased_count,
      'running', j.running_count, 'succeeded', j.succeeded_count, 'failed', j.failed_count,
      'cancelled', j.cancelled_count),
    'idempotencyKey', j.idempotency_key, 'cancelReason', j.cancel_reason,
    'createdAt', j.created_at, 'updatedAt', j.updated_at,
    'startedAt', j.started_at, 'finishedAt', j.finished_at)
$$;

CREATE FUNCTION task_json(t tasks) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', t.id::text, 'jobId', t.job_id, 'index', t.idx, 'stage', t.stage, 'taskType', t.task_type,
    'status', t.status, 'priority', t.priority, 'runAt', t.run_at, 'attempt', t.attempt,
    'maxAttempts', t.max_attempts, 'timeoutMs', t.timeout_ms, 'tags', to_jsonb(t.tags),
    'progress', least(1, greatest(0, t.progress)), 'message', t.message, 'result', t.result,
    'error', t.error, 'cancelRequested', t.cancel_requested, 'workerId', t.worker_id,
    'createdAt', t.created_at, 'startedAt', t.started_at, 'finishedAt', t.finished_at,
    'params', t.params)
$$;

CREATE FUNCTION attempt_json(a attempts) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', a.id::text, 'taskId', a.task_id::text, 'number', a.number, 'workerId', a.worker_id,
    'status', a.status, 'leaseExpiresAt', a.lease_expires_at, 'deadlineAt', a.deadline_at,
    'startedAt', a.started_at, 'finishedAt', a.finished_at, 'error', a.error)
$$;

CREATE FUNCTION worker_json(w workers) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', w.id, 'name', w.name, 'host', w.host, 'tags', to_jsonb(w.tags),
    'taskTypes', to_jsonb(w.task_types), 'slots', w.slots, 'state', w.state, 'stats', w.stats,
    'lastSeenAt', w.last_seen_at, 'createdAt', w.created_at)
$$;

-- Rules shared by every statement that ends an attempt.

-- How long a task waits before its next attempt: initial * 2^(attempt-1), capped, then ±20% jitter
-- so that tasks failing together do not come back together.
CREATE FUNCTION retry_delay(attempt int, initial_ms int, max_ms int) RETURNS interval
LANGUAGE sql VOLATILE AS $$
  SELECT (least(max_ms::double precision, initial_ms * power(2::double precision, greatest(attempt - 1, 0)))
          * (0.8 + random() * 0.4)) * interval '1 millisecond'
$$;

-- A task's status after an attempt ended without success.
CREATE FUNCTION status_after_failure(cancel_requested boolean, attempt int, max_attempts int, retry boolean)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN cancel_requested THEN 'cancelled'
              WHEN retry AND attempt < max_attempts THEN 'queued'
              ELSE 'failed' END
$$;

-- A job's status from its task counts: queued until a task is held or has succeeded or failed.
CREATE FUNCTION job_status(queued int, blocked int, leased int, running int, succeeded int, failed int, cancelled int)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN queued + blocked + leased + running > 0 THEN
                CASE WHEN leased + running + succeeded + failed > 0 THEN 'running' ELSE 'queued' END
              WHEN failed > 0 THEN 'failed'
              WHEN cancelled > 0 THEN 'cancelled'
              ELSE 'succeeded' END
$$;

-- A task's share of its job's progress: a finished task counts whole.
CREATE FUNCTION effective_progress(status text, progress double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN status IN ('succeeded', 'failed', 'cancelled') THEN 1 ELSE least(1, greatest(0, progress)) END
$$;

-- After any UPDATE of tasks: fold the changes into their jobs (counts, progress, status), append
-- one `tasks.updated` event per job listing the changed tasks, then release or cancel the stages
-- that wait on them. Runs once per statement, so a batch of a hundred completions costs one pass.
--
-- Lock order, which every statement follows so that none can deadlock: attempts, then tasks, then
-- jobs (in id order, taken here), then the blocked tasks of those jobs (only ever touched here).
CREATE FUNCTION tasks_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  flags record;
BEGIN
  PERFORM 1 FROM jobs WHERE id IN (SELECT job_id FROM new_rows) ORDER BY id FOR UPDATE;

  WITH ch AS MATERIALIZED (
    SELECT n.id, n.job_id, n.stage, n.status, o.status AS old_status,
           effective_progress(n.status, n.progress) - effective_progress(o.status, o.progress) AS progress_delta,
           jsonb_build_object(
             'id', n.id::text, 'index', n.idx, 'stage', n.stage, 'status', n.status,
             'attempt', n.attempt, 'progress', least(1, greatest(0, n.progress)), 'message', n.message,
             'result', n.result, 'error', n.error, 'cancelRequested', n.cancel_requested,
             'workerId', n.worker_id, 'runAt', n.run_at, 'startedAt', n.started_at,
             'finishedAt', n.finished_at) AS summary
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status <> o.status OR n.progress <> o.progress OR n.message IS DISTINCT FROM o.message
       OR n.attempt <> o.attempt OR n.cancel_requested <> o.cancel_requested
  ), logged AS (
    INSERT INTO events (topic, kind, subject, job_id, data)
    SELECT 'job/' || job_id, 'tasks.updated', job_id::text, job_id,
           jsonb_build_object('jobId', job_id, 'tasks', jsonb_agg(summary ORDER BY id))
    FROM ch GROUP BY job_id
  ), d AS (
    SELECT job_id,
      sum((status = 'queued')::int - (old_status = 'queued')::int) AS q,
      sum((status = 'blocked')::int - (old_status = 'blocked')::int) AS b,
      sum((status = 'leased')::int - (old_status = 'leased')::int) AS l,
      sum((status = 'running')::int - (old_status = 'running')::int) AS r,
      sum((status = 'succeeded')::int - (old_status = 'succeeded')::int) AS s,
      sum((status = 'failed')::int - (old_status = 'failed')::int) AS f,
      sum((status = 'cancelled')::int - (old_status = 'cancelled')::int) AS c,
      sum(progress_delta) AS p,
      bool_or(status IN ('leased', 'running')) AS started
    FROM ch WHERE status <> old_status OR progress_delta <> 0
    GROUP BY job_id
  ), st AS (
    SELECT j.id, d.p, d.started,
      j.queued_count + d.q AS q, j.blocked_count + d.b AS b, j.leased_count + d.l AS l,
      j.running_count + d.r AS r, j.succeeded_count + d.s AS s, j.failed_count + d.f AS f,
      j.cancelled_count + d.c AS c,
      job_status((j.queued_count + d.q)::int, (j.blocked_count + d.b)::int, (j.leased_count + d.l)::int,
                 (j.running_count + d.r)::int, (j.succeeded_count + d.s)::int, (j.failed_count + d.f)::int,
                 (j.cancelled_count + d.c)::int) AS status
    FROM jobs j JOIN d ON d.job_id = j.id
  ), folded AS (
    UPDATE jobs j SET
      queued_count = st.q, blocked_count = st.b, leased_count = st.l, running_count = st.r,
      succeeded_count = st.s, failed_count = st.f, cancelled_count = st.c,
      progress_sum = j.progress_sum + st.p,
      status = st.status,
      started_at = CASE WHEN st.started THEN coalesce(j.started_at, now()) ELSE j.started_at END,
      finished_at = CASE WHEN st.status IN ('succeeded', 'failed', 'cancelled') THEN coalesce(j.finished_at, now()) END,
      updated_at = now()
    FROM st WHERE j.id = st.id
  )
  SELECT count(*) AS changed,
         coalesce(bool_or(status = 'succeeded' AND old_status <> 'succeeded'), false) AS succeeded,
         coalesce(bool_or(status IN ('failed', 'cancelled') AND old_status NOT IN ('failed', 'cancelled')), false) AS ended,
         coalesce(bool_or(status = 'queued' AND old_status <> 'queued'), false) AS queued
  INTO flags FROM ch;

  -- A statement trigger fires even when its statement changed no row; without this return the
  -- updates below, which often change none, would fire it again without end.
  IF flags.changed = 0 THEN
    RETURN NULL;
  END IF;

  -- A stage whose every task has succeeded releases the next one (or cancels it, if the job was
  -- cancelled meanwhile).
  IF flags.succeeded THEN
    WITH s AS (
      SELECT n.job_id, n.stage, count(*)::int AS n
      FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE n.status = 'succeeded' AND o.status <> 'succeeded' GROUP BY n.job_id, n.stage
    ), done AS (
      UPDATE job_stages js SET succeeded_count = js.succeeded_count + s.n
      FROM s WHERE js.job_id = s.job_id AND js.stage = s.stage
      RETURNING js.job_id, js.stage, js.succeeded_count = js.task_count AS complete
    )
    UPDATE tasks t SET
      status = CASE WHEN j.cancel_reason IS NULL THEN 'queued' ELSE 'cancelled' END,
      run_at = greatest(t.run_at, now()),
      finished_at = CASE WHEN j.cancel_reason IS NULL THEN NULL ELSE now() END,
      error = CASE WHEN j.cancel_reason IS NULL THEN NULL
                   ELSE jsonb_build_object('code', 'DROVER_E_CANCELLED', 'message', 'The job was cancelled: ' || j.cancel_reason) END
    FROM done JOIN jobs j ON j.id = done.job_id
    WHERE done.complete AND t.job_id = done.job_id AND t.stage = done.stage + 1 AND t.status = 'blocked';
  END IF;

  -- A task that ended without success cancels every later stage of its job: they can never run.
  IF flags.ended THEN
    WITH f AS (
      SELECT DISTINCT ON (n.job_id) n.job_id, n.stage, n.id, n.status
      FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE n.status IN ('failed', 'cancelled') AND o.status NOT IN ('failed', 'cancelled')
      ORDER BY n.job_id, n.stage, n.id
    )
    UPDATE tasks t SET status = 'cancelled', finished_at = now(),
      error = jsonb_build_object('code', 'DROVER_E_DEPENDENCY_FAILED',
        'message', format('Task %s (stage %s) ended %s, so this stage will never run.', f.id, f.stage, f.status))
    FROM f WHERE t.job_id = f.job_id AND t.stage > f.stage AND t.status = 'blocked';
  END IF;

  IF flags.queued THEN
    -- A task back in the queue of a job being cancelled never starts again. The job's lock, held
    -- since the top, keeps its cancel reason from changing under this.
    UPDATE tasks t SET status = 'cancelled', finished_at = now(),
      error = jsonb_build_object('code', 'DROVER_E_CANCELLED', 'message', 'The job was cancelled: ' || j.cancel_reason)
    FROM jobs j
    WHERE t.id IN (SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
                   WHERE n.status = 'queued' AND o.status <> 'queued')
      AND j.id = t.job_id AND j.cancel_reason IS NOT NULL AND t.status = 'queued';
    PERFORM pg_notify(current_schema() || '_events', 'queue');
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER tasks_updated AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_updated();

CREATE FUNCTION jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (topic, kind, subject, job_id, data)
  SELECT t.topic, 'job.added', n.id::text, n.id, job_json(n)
  FROM new_rows n CROSS JOIN LATERAL (VALUES ('jobs/' || n.group_name), ('job/' || n.id)) AS t(topic);
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_inserted();

CREATE FUNCTION jobs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (topic, kind, subject, job_id, data)
  SELECT t.topic, 'job.updated', n.id::text, n.id, job_json(n)
  FROM new_rows n CROSS JOIN LATERAL (VALUES ('jobs/' || n.group_name), ('job/' || n.id)) AS t(topic);
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_updated AFTER UPDATE ON jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_updated();

-- A removed job's stages, tasks, attempts and events go with it; the group topic keeps a
-- `job.removed` so live lists drop it.
CREATE FUNCTION jobs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM attempts WHERE task_id IN (SELECT t.id FROM tasks t WHERE t.job_id IN (SELECT id FROM old_rows));
  DELETE FROM tasks WHERE job_id IN (SELECT id FROM old_rows);
  DELETE FROM job_stages WHERE job_id IN (SELECT id FROM old_rows);
  DELETE FROM events WHERE job_id IN (SELECT id FROM old_rows);
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'jobs/' || o.group_name, 'job.removed', o.id::text, jsonb_build_object('id', o.id, 'group', o.group_name)
  FROM old_rows o;
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_deleted();

CREATE FUNCTION workers_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'workers', CASE WHEN TG_OP = 'INSERT' THEN 'worker.added' ELSE 'worker.updated' END, n.id::text, worker_json(n)
  FROM new_rows n;
  RETURN NULL;
END
$$;
CREATE TRIGGER workers_inserted AFTER INSERT ON workers
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION workers_changed();
CREATE TRIGGER workers_updated AFTER UPDATE ON workers
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION workers_changed();

-- Every statement that appends events wakes the listeners once, naming the topics it touched
-- (or "*" when they would not fit in a notification).
CREATE FUNCTION events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  payload text;
BEGIN
  SELECT string_agg(DISTINCT topic, E'\n') INTO payload FROM new_rows;
  IF payload IS NOT NULL THEN
    IF octet_length(payload) > 7000 THEN payload := '*'; END IF;
    PERFORM pg_notify(current_schema() || '_events', payload);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER events_inserted AFTER INSERT ON events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_inserted();
