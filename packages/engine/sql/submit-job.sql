-- A job with its stages and every task, in one statement: a submission is one round trip, and
-- atomic without a transaction of its own. Nothing is written, and nothing returned, when the
-- group already has a job under the idempotency key. Tasks are expanded here rather than sent row
-- by row: a stage is one task, one task per item (the item's keys over the stage params), or one
-- per frame of a range. Ids follow the ORDER BY, so submission order is index order. A job
-- submitted into a paused group starts paused ($17..$19: how its first stage expands, for
-- jobs.extend). A site job ($20) is recorded with what its site is sent ($21). $22: failures of
-- its tasks on one worker before that worker is blocked for it (0: never).
WITH job AS (
  INSERT INTO jobs (id, group_name, name, task_type, params, priority, status, task_count,
                    queued_count, blocked_count, idempotency_key, submission_hash, group_paused,
                    expansion, frame_first, frame_last, site, blocklist_after)
  VALUES ($1, $2, $3, $4, $5::jsonb, $6, 'queued', $7, $8, $9, $10, $11, group_is_paused($2),
          $17, $18, $19, $20, $22)
  ON CONFLICT (group_name, idempotency_key) DO NOTHING
  RETURNING id, group_paused, site, job_json(jobs) AS record
), forwarded AS (
  -- A site job ($20) waits here, with what to send the site ($21), for its site's link.
  INSERT INTO site_jobs (job_id, site, submission)
  SELECT job.id, $20, $21::jsonb FROM job WHERE $20::text IS NOT NULL
), stages AS (
  INSERT INTO job_stages (job_id, stage, task_count)
  SELECT job.id, s.stage, s.task_count
  FROM job, jsonb_to_recordset($16::jsonb) AS s(stage int, task_count int)
), s AS MATERIALIZED (
  -- Once per stage, not once per task.
  SELECT r.*, ARRAY(SELECT jsonb_array_elements_text(r.tags)) AS tag_list
  FROM jsonb_to_recordset($12::jsonb) AS r(stage int, first_index int, task_type text, params jsonb,
       items jsonb, frame_start int, frame_end int, frame_step int, tags jsonb, max_attempts int,
       timeout_ms int)
), tasks AS (
  INSERT INTO tasks (job_id, idx, stage, task_type, params, priority, run_at, status, tags,
                     max_attempts, timeout_ms, backoff_initial_ms, backoff_max_ms, held_back,
                     group_name)
  SELECT job.id, s.first_index + e.i - 1, s.stage, s.task_type, e.params, $6, coalesce($13::timestamptz, now()),
         CASE WHEN s.stage = 0 THEN 'queued' ELSE 'blocked' END,
         s.tag_list, s.max_attempts, s.timeout_ms, $14, $15,
         -- The queue walks them last: a paused job's, and a site job's, which never run here.
         job.group_paused OR job.site IS NOT NULL,
         $2
  FROM job, s
  CROSS JOIN LATERAL (
    SELECT s.params || x.item AS params, x.i FROM jsonb_array_elements(s.items) WITH ORDINALITY AS x(item, i)
    WHERE s.items IS NOT NULL
    UNION ALL
    SELECT s.params || jsonb_build_object('frame', g.frame), g.i
    FROM generate_series(s.frame_start, s.frame_end, s.frame_step) WITH ORDINALITY AS g(frame, i)
    WHERE s.frame_start IS NOT NULL
    UNION ALL
    SELECT s.params, 1 WHERE s.items IS NULL AND s.frame_start IS NULL
  ) AS e
  ORDER BY s.stage, e.i
)
-- Wakes the dispatchers: there are tasks to claim.
SELECT job.record AS job, pg_notify(current_schema() || '_events', 'queue') FROM job
