-- Fair sharing between groups, concurrency and rate limits, and a per-job worker blocklist
-- (decisions 0035 and 0036).

-- A group's limits and share, set by groups.setLimits. No row: no limit, weight 1.
--   max_running      at most this many of its tasks leased or running at once, across the farm;
--   rate_per_minute  at most this many of its tasks started a minute, as a token bucket that
--                    holds at most a second's worth (at least one): `tokens` as of `tokens_at`;
--   weight           its share of the slots against other groups waiting at once.
-- A claim locks the rows of the limited groups it may take tasks of, in name order, before it
-- chooses: two claims cannot both count the same room.
CREATE TABLE group_limits (
  group_name text PRIMARY KEY,
  max_running int CHECK (max_running >= 0),
  rate_per_minute int CHECK (rate_per_minute > 0),
  weight int NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
  tokens double precision NOT NULL DEFAULT 0,
  tokens_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text
);

-- A task type's limit, set by taskTypes.setLimits: at most this many of its tasks leased or
-- running at once. Its own table: task_types rows are written by the workers' hellos.
CREATE TABLE task_type_limits (
  task_type text PRIMARY KEY,
  max_running int NOT NULL CHECK (max_running >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text
);

-- A task's group, copied from its job (groups never change), so that the queue can be walked one
-- group at a time. The backfill is not an edit the tasks trigger should report.
ALTER TABLE tasks ADD COLUMN group_name text;
ALTER TABLE tasks DISABLE TRIGGER tasks_updated;
UPDATE tasks t SET group_name = j.group_name FROM jobs j WHERE j.id = t.job_id;
ALTER TABLE tasks ENABLE TRIGGER tasks_updated;
ALTER TABLE tasks ALTER COLUMN group_name SET NOT NULL;
DROP INDEX tasks_queue;
CREATE INDEX tasks_queue ON tasks (task_type, group_name, held_back, priority DESC, run_at, id)
  WHERE status = 'queued';

-- A group's tasks leased or running, for its share and its limit, from the live counts of its
-- unfinished jobs.
CREATE INDEX jobs_group_active ON jobs (group_name) WHERE status IN ('queued', 'running');

-- The per-job worker blocklist: `blocklist_after` failures of a job's tasks on one worker (0:
-- never) and that worker is offered no more of them. The failures are counted per job and
-- worker; the blocked workers are also kept on the job's row, which the claim reads per
-- candidate anyway.
ALTER TABLE jobs ADD COLUMN blocklist_after int NOT NULL DEFAULT 3 CHECK (blocklist_after >= 0);
ALTER TABLE jobs ADD COLUMN blocked_workers uuid[] NOT NULL DEFAULT '{}';
CREATE TABLE job_worker_failures (
  job_id uuid NOT NULL,
  worker_id uuid NOT NULL,
  failures int NOT NULL DEFAULT 0,
  last_failed_at timestamptz NOT NULL DEFAULT now(),
  blocked_at timestamptz,
  PRIMARY KEY (job_id, worker_id)
);

CREATE FUNCTION jobs_deleted_failures() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM job_worker_failures WHERE job_id IN (SELECT id FROM old_rows);
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_deleted_failures AFTER DELETE ON jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_deleted_failures();

-- Attempts that ended by the task's fault (its error or its timeout; not a lost connection nor a
-- cancel) count against their worker for the job: the statements that end attempts
-- (fail-attempts.sql, reap-attempts.sql) call this with the task and worker of each, so only
-- failures pay for it. The failure that reaches the job's `blocklist_after` blocks the worker for
-- the job, with a `job.worker_blocked` event on the job's topic.
CREATE FUNCTION count_worker_failures(task_ids bigint[], worker_ids uuid[]) RETURNS void
LANGUAGE sql VOLATILE STRICT AS $$
WITH f AS (
  SELECT t.job_id, x.worker_id, count(*)::int AS n, j.blocklist_after
  FROM unnest(task_ids, worker_ids) AS x(task_id, worker_id)
  JOIN tasks t ON t.id = x.task_id JOIN jobs j ON j.id = t.job_id
  GROUP BY t.job_id, x.worker_id, j.blocklist_after
), counted AS (
  INSERT INTO job_worker_failures AS w (job_id, worker_id, failures, blocked_at)
  SELECT f.job_id, f.worker_id, f.n,
         CASE WHEN f.blocklist_after > 0 AND f.n >= f.blocklist_after THEN now() END
  FROM f
  ON CONFLICT (job_id, worker_id) DO UPDATE SET
    failures = w.failures + excluded.failures, last_failed_at = now(),
    blocked_at = coalesce(w.blocked_at, (
      SELECT now() FROM jobs j
      WHERE j.id = w.job_id AND j.blocklist_after > 0
        AND w.failures + excluded.failures >= j.blocklist_after))
  RETURNING w.job_id, w.worker_id, w.failures, w.blocked_at
), newly AS (
  -- Blocked by this statement (a worker blocked before keeps its first time).
  SELECT c.job_id, c.worker_id, c.failures FROM counted c WHERE c.blocked_at = now()
), marked AS (
  UPDATE jobs j SET blocked_workers = j.blocked_workers || n.workers
  FROM (SELECT job_id, array_agg(worker_id) AS workers FROM newly GROUP BY job_id) AS n
  WHERE j.id = n.job_id
)
INSERT INTO events (topic, kind, subject, job_id, data)
SELECT 'job/' || n.job_id, 'job.worker_blocked', n.job_id::text, n.job_id,
       jsonb_build_object('jobId', n.job_id, 'workerId', n.worker_id, 'failures', n.failures)
FROM newly n
$$;

-- The claim's choice, in two parts. claim_candidates (SQL, with the settings of 0007) walks the
-- queue and returns the candidates in the order they are to be given slots; claim_choice
-- (below) locks the limited rows first and matches candidates to slots.
--
-- The queue is walked once per group of slots, task type and group of jobs waiting: the groups
-- waiting for a task type are found by a loose scan of the queue index (one descent per group),
-- and each is walked to at most as many tasks as there are slots (fewer under a limit). With one
-- group waiting this reads what the single walk per task type read before, plus two descents.
--
-- Candidates are ordered by their group's share: (the group's tasks leased or running + the
-- task's rank in its group) / the group's weight, then priority, run-at and submission order.
-- Fair share comes first and priority orders within a group (decision 0035). The running count
-- is read only when it matters: several groups waiting, or a limit.
--
-- locked_groups and locked_types are the limited groups and task types whose rows the claim
-- holds: a limited one it does not hold gets no task (it had no queued task as the lock was
-- taken; the next claim takes it).
--
-- PL/pgSQL for its plan: kept for the session, where an SQL function is planned on every call
-- (4 ms of planning for 1 ms of work, on PostgreSQL with 100,000 queued).
CREATE FUNCTION claim_candidates(slot_groups jsonb, locked_groups text[], locked_types text[])
RETURNS TABLE (candidate_id bigint, slot_group bigint, blocked uuid[])
LANGUAGE plpgsql VOLATILE ROWS 50
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off SET jit = off
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH RECURSIVE grp AS MATERIALIZED (
  SELECT g.ord AS grp,
         ARRAY(SELECT jsonb_array_elements_text(g.doc -> 'taskTypes')) AS task_types,
         ARRAY(SELECT jsonb_array_elements_text(g.doc -> 'tags')) AS tags,
         ARRAY(SELECT s::uuid FROM jsonb_array_elements_text(g.doc -> 'slots') AS s) AS slots,
         ARRAY(SELECT DISTINCT s::uuid FROM jsonb_array_elements_text(g.doc -> 'slots') AS s) AS workers
  FROM jsonb_array_elements(slot_groups) WITH ORDINALITY AS g(doc, ord)
), offered AS MATERIALIZED (
  SELECT DISTINCT tt.task_type FROM grp CROSS JOIN LATERAL unnest(grp.task_types) AS tt(task_type)
  WHERE cardinality(grp.slots) > 0
), waiting(task_type, group_name, held_only) AS (
  -- A group whose first entry is held back has only held-back tasks of the type (a paused group,
  -- or paused jobs): see held below.
  SELECT o.task_type, f.group_name, f.held_back FROM offered o CROSS JOIN LATERAL (
    SELECT t.group_name, t.held_back FROM tasks t WHERE t.task_type = o.task_type AND t.status = 'queued'
    ORDER BY t.group_name, t.held_back LIMIT 1) AS f
  UNION ALL
  SELECT w.task_type, n.group_name, n.held_back FROM waiting w CROSS JOIN LATERAL (
    SELECT t.group_name, t.held_back FROM tasks t
    WHERE t.task_type = w.task_type AND t.status = 'queued' AND t.group_name > w.group_name
    ORDER BY t.group_name, t.held_back LIMIT 1) AS n
), queue AS MATERIALIZED (
  SELECT w.task_type, w.group_name, w.held_only FROM waiting w
), share AS MATERIALIZED (
  SELECT q.group_name, coalesce(l.weight, 1) AS weight,
         CASE WHEN l.max_running IS NULL AND (SELECT count(DISTINCT q2.group_name) FROM queue q2) = 1 THEN 0
              ELSE (SELECT coalesce(sum(j.leased_count + j.running_count), 0) FROM jobs j
                    WHERE j.group_name = q.group_name AND j.status IN ('queued', 'running'))
         END AS running,
         l.max_running, l.rate_per_minute, l.tokens, l.tokens_at
  FROM (SELECT DISTINCT q.group_name FROM queue q) AS q
  LEFT JOIN group_limits l ON l.group_name = q.group_name
), room AS MATERIALIZED (
  SELECT s.group_name, s.weight, s.running,
         CASE WHEN s.max_running IS NULL AND s.rate_per_minute IS NULL THEN NULL
              WHEN NOT (s.group_name = ANY(locked_groups)) THEN 0
              ELSE greatest(0, least(
                coalesce(s.max_running - s.running, 2147483647)::float8,
                CASE WHEN s.rate_per_minute IS NULL THEN 2147483647
                     ELSE floor(least(greatest(1, s.rate_per_minute / 60.0),
                                      s.tokens + extract(epoch FROM now() - s.tokens_at) * s.rate_per_minute / 60.0))
                END))::int
         END AS room
  FROM share s
), type_room AS MATERIALIZED (
  SELECT o.task_type,
         CASE WHEN l.max_running IS NULL THEN NULL
              WHEN NOT (o.task_type = ANY(locked_types)) THEN 0
              ELSE greatest(0, l.max_running - (
                SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
                WHERE a.status = 'active' AND t.task_type = o.task_type))::int
         END AS room
  FROM offered o LEFT JOIN task_type_limits l ON l.task_type = o.task_type
), candidate AS (
  SELECT c.id, grp.grp, q.group_name, q.task_type, c.held_back, c.priority, c.run_at, c.blocked
  FROM grp CROSS JOIN LATERAL unnest(grp.task_types) AS tt(task_type)
  JOIN queue q ON q.task_type = tt.task_type AND NOT q.held_only
  JOIN room r ON r.group_name = q.group_name
  JOIN type_room tr ON tr.task_type = q.task_type
  CROSS JOIN LATERAL (
    SELECT t.id, t.held_back, t.priority, t.run_at, j.blocked_workers AS blocked FROM tasks t
    -- Not the tasks of a job whose cancel has begun (see cancel-tasks.sql), of a paused job, of
    -- a site job, nor of a job that blocked every worker of these slots. A lateral join on the
    -- job's primary key, per candidate, under the walk's order.
    CROSS JOIN LATERAL (
      SELECT j.blocked_workers FROM jobs j
      WHERE j.id = t.job_id AND j.cancel_reason IS NULL AND NOT j.paused AND NOT j.group_paused
        AND j.site IS NULL AND NOT (j.blocked_workers @> grp.workers)
    ) AS j
    WHERE t.task_type = q.task_type AND t.group_name = q.group_name AND t.status = 'queued'
      AND t.run_at <= now() AND t.tags <@ grp.tags
    ORDER BY t.held_back, t.priority DESC, t.run_at, t.id
    LIMIT least(cardinality(grp.slots), coalesce(r.room, cardinality(grp.slots)),
                coalesce(tr.room, cardinality(grp.slots)))
    FOR UPDATE OF t SKIP LOCKED
  ) AS c
  WHERE cardinality(grp.slots) > 0
), held AS (
  -- A group with only held-back tasks of the type: nearly always a paused group's or paused
  -- jobs', which the job's row refuses one by one. Walking them all would read the whole paused
  -- queue on every claim while other groups wait, so only its first slots' worth are looked at;
  -- a task left held back by a race in such a group waits until those ahead of it go (0013).
  SELECT c.id, grp.grp, q.group_name, q.task_type, c.held_back, c.priority, c.run_at, c.blocked
  FROM grp CROSS JOIN LATERAL unnest(grp.task_types) AS tt(task_type)
  JOIN queue q ON q.task_type = tt.task_type AND q.held_only
  JOIN room r ON r.group_name = q.group_name
  JOIN type_room tr ON tr.task_type = q.task_type
  CROSS JOIN LATERAL (
    SELECT t.id, t.held_back, t.priority, t.run_at, j.blocked_workers AS blocked
    FROM (SELECT h.id FROM tasks h
          WHERE h.task_type = q.task_type AND h.group_name = q.group_name AND h.status = 'queued'
          ORDER BY h.held_back, h.priority DESC, h.run_at, h.id
          LIMIT cardinality(grp.slots)) AS first
    JOIN tasks t ON t.id = first.id
    CROSS JOIN LATERAL (
      SELECT j.blocked_workers FROM jobs j
      WHERE j.id = t.job_id AND j.cancel_reason IS NULL AND NOT j.paused AND NOT j.group_paused
        AND j.site IS NULL AND NOT (j.blocked_workers @> grp.workers)
    ) AS j
    WHERE t.status = 'queued' AND t.run_at <= now() AND t.tags <@ grp.tags
    LIMIT least(cardinality(grp.slots), coalesce(r.room, cardinality(grp.slots)),
                coalesce(tr.room, cardinality(grp.slots)))
    FOR UPDATE OF t SKIP LOCKED
  ) AS c
  WHERE cardinality(grp.slots) > 0
), picked AS (
  SELECT DISTINCT ON (c.id) c.*
  FROM (SELECT * FROM candidate UNION ALL SELECT * FROM held) AS c ORDER BY c.id, c.grp
), ranked AS (
  SELECT p.*, r.room, (r.running + row_number() OVER w)::float8 / r.weight AS share,
         row_number() OVER w AS n_group
  FROM picked p JOIN room r ON r.group_name = p.group_name
  WINDOW w AS (PARTITION BY p.group_name ORDER BY p.held_back, p.priority DESC, p.run_at, p.id)
), typed AS (
  SELECT r.*, row_number() OVER (PARTITION BY r.task_type
                                 ORDER BY r.held_back, r.share, r.priority DESC, r.run_at, r.id) AS n_type
  FROM ranked r
)
SELECT t.id, t.grp, t.blocked FROM typed t JOIN type_room tr ON tr.task_type = t.task_type
WHERE (t.room IS NULL OR t.n_group <= t.room) AND (tr.room IS NULL OR t.n_type <= tr.room)
ORDER BY t.held_back, t.share, t.priority DESC, t.run_at, t.id;
END
$$;

-- The choice of tasks for a claim (claim-tasks.sql): given the free slots of many workers, by
-- group, as {"taskTypes": [...], "tags": [...], "slots": [workerId, ...]} (0007), which queued
-- task goes to which slot; the tasks are locked until the claim's transaction ends.
--
-- First the rows of the limited groups and task types this claim may take tasks of are locked,
-- in name order (a claim that takes no limited task locks nothing): a second claim counting the
-- same room waits for this one's transaction, and then counts the tasks it took. Each statement
-- of the function reads a fresh snapshot, so the candidates' statement sees what a claim that
-- held the lock before committed. Then the candidates are given slots in their order: the n-th
-- of a group of slots its n-th slot, in one statement; or, when some candidate's job blocked
-- workers, one by one, each the first free slot of a worker its job did not block. A group's rate
-- is spent by the tasks chosen.
CREATE OR REPLACE FUNCTION claim_choice(slot_groups jsonb) RETURNS TABLE (task_id bigint, worker_id uuid)
LANGUAGE plpgsql VOLATILE ROWS 50
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off SET jit = off
AS $$
DECLARE
  online_ids uuid[];
  online jsonb;
  ids bigint[];
  grps bigint[];
  blocks boolean;
  types text[];
  locked_groups text[];
  locked_types text[];
  slots uuid[] := '{}';
  last_slot int[] := '{}';
  next_slot int[] := '{}';
  used boolean[];
  chosen bigint[] := '{}';
  chosen_workers uuid[];
  c record;
  g record;
  i int;
BEGIN
  -- Only the slots of workers online now (not disabled, nor drained through another server):
  -- each worker looked up once, however many of its slots are offered.
  SELECT coalesce(array_agg(w.id), '{}') INTO online_ids FROM workers w
  WHERE w.state = 'online'
    AND w.id IN (SELECT s::uuid FROM jsonb_array_elements(slot_groups) AS d(doc)
                 CROSS JOIN LATERAL jsonb_array_elements_text(d.doc -> 'slots') AS s);
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'taskTypes', d.doc -> 'taskTypes', 'tags', d.doc -> 'tags',
           'slots', coalesce((SELECT jsonb_agg(s.id ORDER BY s.n)
                              FROM jsonb_array_elements_text(d.doc -> 'slots') WITH ORDINALITY AS s(id, n)
                              WHERE s.id::uuid = ANY(online_ids)),
                             '[]'::jsonb)) ORDER BY d.ord), '[]'::jsonb)
    INTO online
  FROM jsonb_array_elements(slot_groups) WITH ORDINALITY AS d(doc, ord);
  SELECT coalesce(array_agg(DISTINCT tt.task_type), '{}') INTO types
  FROM jsonb_array_elements(slot_groups) AS d(doc)
  CROSS JOIN LATERAL jsonb_array_elements_text(d.doc -> 'taskTypes') AS tt(task_type);

  SELECT coalesce(array_agg(l.group_name), '{}') INTO locked_groups FROM (
    SELECT l.group_name FROM group_limits l
    WHERE (l.max_running IS NOT NULL OR l.rate_per_minute IS NOT NULL)
      AND EXISTS (SELECT 1 FROM tasks t WHERE t.task_type = ANY(types) AND t.group_name = l.group_name
                                         AND t.status = 'queued')
    ORDER BY l.group_name FOR UPDATE OF l
  ) AS l;
  SELECT coalesce(array_agg(l.task_type), '{}') INTO locked_types FROM (
    SELECT l.task_type FROM task_type_limits l WHERE l.task_type = ANY(types)
    ORDER BY l.task_type FOR UPDATE OF l
  ) AS l;

  SELECT array_agg(x.candidate_id ORDER BY x.ord), array_agg(x.slot_group ORDER BY x.ord),
         coalesce(bool_or(cardinality(x.blocked) > 0), false)
    INTO ids, grps, blocks
  FROM claim_candidates(online, locked_groups, locked_types)
       WITH ORDINALITY AS x(candidate_id, slot_group, blocked, ord);
  IF ids IS NULL THEN RETURN; END IF;

  -- No candidate's job blocked a worker (nearly always): the n-th candidate of a group of slots
  -- takes its n-th slot, in one statement.
  IF NOT blocks THEN
    SELECT array_agg(m.id), array_agg((online -> (m.grp::int - 1) -> 'slots' ->> (m.n::int - 1))::uuid)
      INTO chosen, chosen_workers
    FROM (SELECT x.id, x.grp, row_number() OVER (PARTITION BY x.grp ORDER BY x.ord) AS n
          FROM unnest(ids, grps) WITH ORDINALITY AS x(id, grp, ord)) AS m
    WHERE m.n <= jsonb_array_length(online -> (m.grp::int - 1) -> 'slots');
    RETURN QUERY SELECT x.id, x.worker FROM unnest(chosen, chosen_workers) AS x(id, worker);
  ELSE
    FOR g IN SELECT s.ord, s.doc FROM jsonb_array_elements(online) WITH ORDINALITY AS s(doc, ord) ORDER BY s.ord LOOP
      next_slot[g.ord] := cardinality(slots) + 1;
      slots := slots || ARRAY(SELECT s::uuid FROM jsonb_array_elements_text(g.doc -> 'slots') AS s);
      last_slot[g.ord] := cardinality(slots);
    END LOOP;
    used := array_fill(false, ARRAY[cardinality(slots)]);

    -- Some job blocked workers: each candidate takes the first free slot of its group of slots
    -- whose worker its job did not block.
    FOR c IN SELECT x.candidate_id, x.slot_group,
                    (SELECT j.blocked_workers FROM tasks t JOIN jobs j ON j.id = t.job_id
                     WHERE t.id = x.candidate_id) AS blocked
             FROM unnest(ids, grps) WITH ORDINALITY AS x(candidate_id, slot_group, ord)
             ORDER BY x.ord LOOP
      IF next_slot[c.slot_group] > last_slot[c.slot_group] THEN CONTINUE; END IF;
      IF cardinality(c.blocked) = 0 THEN
        i := next_slot[c.slot_group];
      ELSE
        i := NULL;
        FOR k IN next_slot[c.slot_group] .. last_slot[c.slot_group] LOOP
          IF NOT used[k] AND NOT (slots[k] = ANY(c.blocked)) THEN
            i := k;
            EXIT;
          END IF;
        END LOOP;
        CONTINUE WHEN i IS NULL;
      END IF;
      used[i] := true;
      WHILE next_slot[c.slot_group] <= last_slot[c.slot_group] AND used[next_slot[c.slot_group]] LOOP
        next_slot[c.slot_group] := next_slot[c.slot_group] + 1;
      END LOOP;
      chosen := chosen || c.candidate_id;
      task_id := c.candidate_id;
      worker_id := slots[i];
      RETURN NEXT;
    END LOOP;
  END IF;

  -- The rate-limited groups spend a token per task chosen.
  IF cardinality(locked_groups) > 0 AND cardinality(chosen) > 0 THEN
    UPDATE group_limits l SET
      tokens = least(greatest(1, l.rate_per_minute / 60.0),
                     l.tokens + extract(epoch FROM now() - l.tokens_at) * l.rate_per_minute / 60.0) - n.taken,
      tokens_at = now()
    FROM (SELECT t.group_name, count(*) AS taken FROM tasks t WHERE t.id = ANY(chosen) GROUP BY t.group_name) AS n
    WHERE l.group_name = n.group_name AND l.rate_per_minute IS NOT NULL;
  END IF;
END
$$;
