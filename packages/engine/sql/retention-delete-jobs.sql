-- One batch of a retention pass: up to $2 finished jobs past their retention go, oldest first,
-- with their stages, tasks, attempts, events, logs and artifact records (the jobs_deleted
-- triggers), and each job's own topic is told, as when a user removes it.
--
-- A job's retention: $4 when given (a prune's --older-than), else its group's own setting
-- (group_settings; a NULL there keeps the group's jobs), else the farm's $1 (NULL: kept). $3
-- limits the batch to one group. The second bound on finished_at is the shortest retention of
-- all, so that the walk of jobs_finished stops where no job can be due.
--
-- Rows are locked SKIP LOCKED: passes running at once (a prune beside the schedule, or two
-- replicas' prunes) each take other jobs, and a job retried or extended meanwhile (finished no
-- more) is left alone. Reports what went: jobs, tasks, events, artifacts, and the distinct
-- sha256s of the artifacts' bytes with their sizes (not a site job's: its bytes are the site's),
-- for the caller to see which blobs no artifact references any more.
WITH doomed AS (
  SELECT j.id FROM jobs j
  LEFT JOIN group_settings s ON s.group_name = j.group_name
  WHERE j.finished_at IS NOT NULL
    AND ($3::text IS NULL OR j.group_name = $3::text)
    AND j.finished_at < now() - (CASE WHEN $4::bigint IS NOT NULL THEN $4::bigint
                                      WHEN s.group_name IS NOT NULL THEN s.retention_ms
                                      ELSE $1::bigint END) * interval '1 millisecond'
    AND j.finished_at < (SELECT now() - coalesce($4::bigint, least($1::bigint, min(retention_ms)))
                                        * interval '1 millisecond' FROM group_settings)
  ORDER BY j.finished_at
  LIMIT $2
  FOR UPDATE OF j SKIP LOCKED
), counted AS (
  SELECT
    (SELECT count(*) FROM events e WHERE e.job_id IN (SELECT id FROM doomed)) AS events,
    (SELECT count(*) FROM artifacts a WHERE a.job_id IN (SELECT id FROM doomed)) AS artifacts,
    (SELECT coalesce(jsonb_object_agg(b.sha256, b.size), '{}') FROM (
       SELECT DISTINCT ON (a.sha256) a.sha256, a.size FROM artifacts a
       WHERE a.job_id IN (SELECT id FROM doomed) AND a.site IS NULL) b) AS blobs
), removed AS (
  DELETE FROM jobs j USING doomed d WHERE j.id = d.id
  RETURNING j.id, j.group_name, j.task_count
), told AS (
  INSERT INTO events (topic, kind, subject, data)
  SELECT 'job/' || r.id, 'job.removed', r.id::text, jsonb_build_object('id', r.id, 'group', r.group_name)
  FROM removed r
)
SELECT (SELECT count(*) FROM removed)::int AS jobs,
       (SELECT coalesce(sum(task_count), 0) FROM removed)::bigint AS tasks,
       c.events::bigint AS events, c.artifacts::bigint AS artifacts, c.blobs
FROM counted c
