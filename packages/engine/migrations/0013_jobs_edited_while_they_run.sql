-- Jobs edited while they run: a job or a whole group paused and resumed, a job given more items
-- or frames.

-- A paused job starts no task: claims skip its queued tasks, as they skip those of a job being
-- cancelled, while the tasks workers hold run to their end. `paused` is the job's own pause
-- (jobs.pause); `group_paused` its group's (groups.pause), kept on the job so that a claim reads
-- one row per candidate, as before. jobs.resume clears both; groups.resume only the second.
ALTER TABLE jobs ADD COLUMN paused boolean NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN group_paused boolean NOT NULL DEFAULT false;

-- The queue walks a paused job's waiting tasks last, so that a claim does not read past
-- thousands of them to find the tasks it may take: `held_back` is set on them as the job is
-- paused (and on those it gets while paused) and cleared as it is resumed or as a claim takes
-- one. A hint for the order of the walk only: whether a task may start is the job's row, read
-- per candidate, so a hint left behind by a race delays a task, never starts or loses one.
ALTER TABLE tasks ADD COLUMN held_back boolean NOT NULL DEFAULT false;
DROP INDEX tasks_queue;
CREATE INDEX tasks_queue ON tasks (task_type, held_back, priority DESC, run_at, id) WHERE status = 'queued';

-- How the job's first stage expands, so that more of the same can be added to it (jobs.extend):
-- 'items', 'frames' (with the lowest and highest frame so far), or NULL for a single task.
ALTER TABLE jobs ADD COLUMN expansion text CHECK (expansion IN ('items', 'frames'));
ALTER TABLE jobs ADD COLUMN frame_first int;
ALTER TABLE jobs ADD COLUMN frame_last int;

-- Jobs submitted before: a first stage whose tasks all carry a frame the job's params lack was
-- a frame range; one of several tasks, or of one task whose params are not the job's, was items.
LOCK TABLE tasks, jobs IN SHARE ROW EXCLUSIVE MODE;
UPDATE jobs j SET expansion = s.expansion, frame_first = s.frame_first, frame_last = s.frame_last
FROM (
  SELECT t.job_id,
         CASE WHEN bool_and(t.params ? 'frame' AND NOT (j.params ? 'frame')
                            AND jsonb_typeof(t.params -> 'frame') = 'number') THEN 'frames'
              WHEN count(*) > 1 OR bool_or(t.params <> j.params) THEN 'items' END AS expansion,
         CASE WHEN bool_and(t.params ? 'frame' AND NOT (j.params ? 'frame')
                            AND jsonb_typeof(t.params -> 'frame') = 'number')
              THEN min((t.params ->> 'frame')::numeric)::int END AS frame_first,
         CASE WHEN bool_and(t.params ? 'frame' AND NOT (j.params ? 'frame')
                            AND jsonb_typeof(t.params -> 'frame') = 'number')
              THEN max((t.params ->> 'frame')::numeric)::int END AS frame_last
  FROM tasks t JOIN jobs j ON j.id = t.job_id
  WHERE t.stage = 0
  GROUP BY t.job_id
) s
WHERE s.job_id = j.id AND s.expansion IS NOT NULL;

-- The groups paused now. A job submitted into one starts paused, and so does a finished job of
-- one that comes back (extended or retried); groups.resume deletes the row.
CREATE TABLE paused_groups (
  group_name text PRIMARY KEY,
  paused_at timestamptz NOT NULL DEFAULT now()
);

-- Whether a group is paused, for a job entering it (submitted, extended, retried): read after
-- any pause or resume of the group under way has committed, so that either the job sees the
-- pause or the pause sees the job. groups.pause and groups.resume hold the same lock, exclusive.
-- Volatile, so that its read takes a snapshot of its own, after the lock.
CREATE FUNCTION group_is_paused(g text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext(current_schema() || '.group.' || g));
  RETURN EXISTS (SELECT 1 FROM paused_groups WHERE group_name = g);
END
$$;

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
    'idempotencyKey', j.idempotency_key, 'cancelReason', j.cancel_reason,
    'createdAt', j.created_at, 'updatedAt', j.updated_at,
    'startedAt', j.started_at, 'finishedAt', j.finished_at)
$$;

-- The claim's choice (0007), now skipping paused jobs too. The job's row was already read per
-- candidate for its cancel reason: the pause is read from the same row, at no extra cost. Each
-- task type's queue is walked held-back tasks last (see tasks.held_back above).
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
      -- Not the tasks of a job whose cancel has begun (see cancel-tasks.sql), nor of a paused
      -- job. A scalar subquery, checked per candidate: as NOT EXISTS the planner may make it an
      -- anti-join that reads the whole queue instead of walking the index to the first few.
      AND (SELECT j.cancel_reason IS NULL AND NOT j.paused AND NOT j.group_paused
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
