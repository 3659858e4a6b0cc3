-- Sites: other Drover farms this one forwards jobs to, over the same JSON-RPC its clients use
-- (IceProd's site-to-site model). A site job is recorded here like any other, but its tasks are
-- never claimed here: one server of the farm (the site's link) submits it to the site and mirrors
-- what happens there into these tables, as the site's events come in.

-- The token is the site's, presented to it on every connection, so it is kept as given (a hash
-- could not be presented). Only the engine reads this table; no record, event or log carries the
-- token (site_json leaves it out). `link_server` is the server that runs the site's link now: any
-- server takes it over once that one has left the servers table (stopped, or swept as dead).
CREATE TABLE sites (
  name text PRIMARY KEY,
  url text NOT NULL,
  token text NOT NULL,
  link_server uuid,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text
);

-- The site a job runs at; NULL for this farm's workers.
ALTER TABLE jobs ADD COLUMN site text;

-- One row per site job: how far its forwarding has come.
--   pending     recorded here, not yet sent;
--   submitting  sent at least once, the answer not yet recorded (sent again under the same
--               idempotency key, the site answers with the first job);
--   following   the site has it as remote_job_id; its events are applied from `cursor`;
--   done        nothing more to do (finished there and mirrored, or cancelled before it left).
-- A cancel or retry made here waits in cancel_reason / retry_requested until the site took it.
CREATE TABLE site_jobs (
  job_id uuid PRIMARY KEY,
  site text NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'submitting', 'following', 'done')),
  submission jsonb NOT NULL,
  remote_job_id uuid,
  cursor text NOT NULL DEFAULT '',
  cancel_reason text,
  retry_requested boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX site_jobs_active ON site_jobs (site) WHERE state <> 'done';

-- A site job's task as the site numbers it, and how far its log has been mirrored. A row appears
-- when the site first reports on the task; `log_done` once its log was read to the end after it
-- finished.
CREATE TABLE site_tasks (
  task_id bigint PRIMARY KEY,
  job_id uuid NOT NULL,
  remote_task_id text NOT NULL,
  log_cursor text NOT NULL DEFAULT '',
  log_done boolean NOT NULL DEFAULT false,
  UNIQUE (job_id, remote_task_id)
);
CREATE INDEX site_tasks_log ON site_tasks (job_id) WHERE NOT log_done;

-- A site job's file is a record here pointing at the site's artifact: downloads through this farm
-- are proxied to the site. Its bytes are not in this farm's store.
ALTER TABLE artifacts ADD COLUMN site text, ADD COLUMN remote_id uuid;

-- A removed job's forwarding state goes with it.
CREATE FUNCTION jobs_deleted_sites() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM site_tasks WHERE job_id IN (SELECT id FROM old_rows);
  DELETE FROM site_jobs WHERE job_id IN (SELECT id FROM old_rows);
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_deleted_sites AFTER DELETE ON jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_deleted_sites();

CREATE FUNCTION site_json(s sites) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'name', s.name, 'url', s.url,
    'activeJobs', (SELECT count(*)::int FROM site_jobs sj WHERE sj.site = s.name AND sj.state <> 'done'),
    'lastError', s.last_error, 'createdAt', s.created_at, 'createdBy', s.created_by)
$$;

-- A job's record names its site.
CREATE OR REPLACE FUNCTION job_json(j jobs) RETURNS jsonb LANGUAGE sql STABLE AS $$
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
    'paused', j.paused OR j.group_paused,
    'idempotencyKey', j.idempotency_key, 'cancelReason', j.cancel_reason, 'site', j.site,
    'createdAt', j.created_at, 'updatedAt', j.updated_at,
    'startedAt', j.started_at, 'finishedAt', j.finished_at)
$$;

-- The claim's choice (0013), now skipping the tasks of site jobs too: they run at their site. The
-- job's row was already read per candidate for its cancel reason and pause; the site is read from
-- the same row, at no extra cost. A site job's tasks are held back (submit-job.sql), so the walk
-- reaches them last.
CREATE OR REPLACE FUNCTION claim_choice(slot_groups jsonb) RETURNS TABLE (task_id bigint, worker_id uuid)
LANGUAGE sql VOLATILE ROWS 50
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off SET jit = off
AS $$
WITH doc AS (
  SELECT g.ord AS grp, g.doc FROM jsonb_array_elements(slot_groups) WITH ORDINALITY AS g(doc, ord)
), online AS MATERIALIZED (
  SELECT w.id FROM workers w
  WHERE w.state = 'online'
    AND w.id IN (SELECT s::uuid FROM doc CROSS JOIN LATERAL jsonb_array_elements_text(doc.doc -> 'slots') AS s)
), grp AS MATERIALIZED (
  SELECT d.grp,
         ARRAY(SELECT jsonb_array_elements_text(d.doc -> 'taskTypes')) AS task_types,
         ARRAY(SELECT jsonb_array_elements_text(d.doc -> 'tags')) AS tags,
         ARRAY(SELECT s.id::uuid FROM jsonb_array_elements_text(d.doc -> 'slots') WITH ORDINALITY AS s(id, n)
               WHERE s.id::uuid IN (SELECT id FROM online) ORDER BY s.n) AS slots
  FROM doc d
), candidate AS (
  SELECT c.id, grp.grp, c.priority, c.run_at
  FROM grp CROSS JOIN LATERAL unnest(grp.task_types) AS tt(task_type)
  CROSS JOIN LATERAL (
    SELECT t.id, t.priority, t.run_at FROM tasks t
    WHERE t.task_type = tt.task_type AND t.status = 'queued' AND t.run_at <= now()
      AND t.tags <@ grp.tags
      -- Not the tasks of a job whose cancel has begun (see cancel-tasks.sql), of a paused job,
      -- nor of a site job. A scalar subquery, checked per candidate: as NOT EXISTS the planner
      -- may make it an anti-join that reads the whole queue instead of walking the index to the
      -- first few.
      AND (SELECT j.cancel_reason IS NULL AND NOT j.paused AND NOT j.group_paused AND j.site IS NULL
           FROM jobs j WHERE j.id = t.job_id)
    ORDER BY t.held_back, t.priority DESC, t.run_at, t.id
    LIMIT cardinality(grp.slots)
    FOR UPDATE SKIP LOCKED
  ) AS c
  WHERE cardinality(grp.slots) > 0
), picked AS (
  SELECT DISTINCT ON (c.id) c.id, c.grp, c.priority, c.run_at FROM candidate c ORDER BY c.id, c.grp
), ranked AS (
  SELECT p.id, p.grp, row_number() OVER (PARTITION BY p.grp ORDER BY p.priority DESC, p.run_at, p.id) AS n
  FROM picked p
), matched AS (
  SELECT r.id, g.slots[r.n] AS worker_id FROM ranked r JOIN grp g ON g.grp = r.grp
  WHERE r.n <= cardinality(g.slots)
)
SELECT m.id, m.worker_id FROM matched m
$$;
