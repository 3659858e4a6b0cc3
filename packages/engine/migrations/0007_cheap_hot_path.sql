-- The hot path's schema costs, changed in a new migration (shipped ones are never edited).

-- 0003 as first shipped made this index, and databases migrated since may or may not have it.
-- Nothing reads it: the group listing is rare and small.
DROP INDEX IF EXISTS jobs_group_status;

-- A worker's row changes on every heartbeat (last seen, host stats), but readers learn of a
-- worker only when something they see as its state changes: its name, host, tags, task types,
-- slots or state. Liveness is kept in memory by the servers and written in batches; events and
-- notifications on every heartbeat would cost more than the rest of the farm together.
DROP TRIGGER workers_updated ON workers;
CREATE FUNCTION workers_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'workers', 'worker.updated', n.id::text, worker_json(n)
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE (n.name, n.host, n.tags, n.task_types, n.slots, n.state)
        IS DISTINCT FROM (o.name, o.host, o.tags, o.task_types, o.slots, o.state);
  RETURN NULL;
END
$$;
CREATE TRIGGER workers_updated AFTER UPDATE ON workers
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION workers_updated();

-- The choice of tasks for a claim (claim-tasks.sql): given the free slots of many workers, by
-- group, as {"taskTypes": [...], "tags": [...], "slots": [workerId, ...]} with one entry per free
-- slot in the order they are to be filled, which queued task goes to which slot. The tasks are
-- locked (FOR UPDATE SKIP LOCKED) until the claim's transaction ends.
--
-- Each group takes queued tasks of its task types whose tags its workers all have, by priority,
-- then run-at, then submission order; the n-th task goes to the n-th slot. Workers that are not
-- online (disabled or drained through another server) get nothing. Groups whose tasks overlap
-- may pick the same task: it goes to the first group, and the other's slot waits for a later
-- claim.
--
-- A function for its settings: the queue index is walked whatever the statistics say. The
-- planner cannot estimate the filters (a worker's tags, a job being cancelled), and once ANALYZE
-- has seen a deep queue it would rather read and sort the whole queue than walk the index to the
-- first few tasks (1.6 ms became 30 ms a claim with 20,000 queued). The settings hold only while
-- the choice is planned and made, not for the claim's writes and triggers; where a sort is the
-- only way, the planner still sorts. The plan's cost then counts the disabled ways, which would
-- make PostgreSQL compile it to machine code first (a second and more): jit is off. A claim
-- chooses few tasks next to the table's size (ROWS), so its writes find them through the
-- primary key.
CREATE FUNCTION claim_choice(slot_groups jsonb) RETURNS TABLE (task_id bigint, worker_id uuid)
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
      -- Not the tasks of a job whose cancel has begun (see cancel-tasks.sql). A scalar subquery,
      -- checked per candidate: as NOT EXISTS the planner may make it an anti-join that reads
      -- the whole queue instead of walking the index to the first few.
      AND (SELECT j.cancel_reason FROM jobs j WHERE j.id = t.job_id) IS NULL
    ORDER BY t.priority DESC, t.run_at, t.id
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
