-- jobs.extend, once judged: more tasks for the job's first stage ($1), under its lock. $2 is the
-- stage as submit-job.sql takes it (params, items or a frame range, tags, attempts, timeout),
-- $3 how many tasks that makes, $4 and $5 the back-off, $6 and $7 the job's frames now. The new
-- tasks take the next indexes, after every task the job has, at the job's priority, held back in
-- the queue if the job is paused (migration 0012; take-group-pause.sql ran first). Tasks are
-- inserted, which the tasks trigger does not see, so the job's counts and status (a finished job
-- runs again) and its first stage's size are brought up to date here.
WITH s AS MATERIALIZED (
  SELECT r.*, ARRAY(SELECT jsonb_array_elements_text(r.tags)) AS tag_list
  FROM jsonb_to_record($2::jsonb) AS r(first_index int, task_type text, params jsonb, items jsonb,
       frame_start int, frame_end int, frame_step int, tags jsonb, max_attempts int, timeout_ms int)
), added AS (
  INSERT INTO tasks (job_id, idx, stage, task_type, params, priority, run_at, status, tags,
                     max_attempts, timeout_ms, backoff_initial_ms, backoff_max_ms, held_back,
                     group_name)
  SELECT j.id, s.first_index + e.i - 1, 0, s.task_type, e.params, j.priority, now(), 'queued',
         s.tag_list, s.max_attempts, s.timeout_ms, $4, $5, j.paused OR j.group_paused, j.group_name
  FROM jobs j, s
  CROSS JOIN LATERAL (
    SELECT s.params || x.item AS params, x.i FROM jsonb_array_elements(s.items) WITH ORDINALITY AS x(item, i)
    WHERE s.items IS NOT NULL
    UNION ALL
    SELECT s.params || jsonb_build_object('frame', g.frame), g.i
    FROM generate_series(s.frame_start, s.frame_end, s.frame_step) WITH ORDINALITY AS g(frame, i)
    WHERE s.frame_start IS NOT NULL
  ) AS e
  WHERE j.id = $1
  ORDER BY e.i
), stage AS (
  UPDATE job_stages SET task_count = task_count + $3 WHERE job_id = $1 AND stage = 0
)
UPDATE jobs j SET
  task_count = j.task_count + $3,
  queued_count = j.queued_count + $3,
  status = job_status(j.queued_count + $3, j.blocked_count, j.leased_count, j.running_count,
                      j.succeeded_count, j.failed_count, j.cancelled_count),
  finished_at = NULL,
  frame_first = $6, frame_last = $7,
  updated_at = now()
WHERE j.id = $1
RETURNING job_json(j) AS job
