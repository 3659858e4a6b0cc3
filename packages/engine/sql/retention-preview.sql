-- What a retention pass would delete, deleting nothing (a prune's --dry-run): $1 the farm's
-- retention, $2 the group, $3 a prune's age (as $1, $3 and $4 of retention-delete-jobs.sql, whose
-- conditions are repeated here without the limit). Counts the jobs, their tasks, events and
-- artifacts, the blobs no other job's artifact references with their total size, and the events
-- outside any job older than $4 ms (NULL: none).
WITH doomed AS MATERIALIZED (
  SELECT j.id, j.task_count FROM jobs j
  LEFT JOIN group_settings s ON s.group_name = j.group_name
  WHERE j.finished_at IS NOT NULL
    AND ($2::text IS NULL OR j.group_name = $2::text)
    AND j.finished_at < now() - (CASE WHEN $3::bigint IS NOT NULL THEN $3::bigint
                                      WHEN s.group_name IS NOT NULL THEN s.retention_ms
                                      ELSE $1::bigint END) * interval '1 millisecond'
    AND j.finished_at < (SELECT now() - coalesce($3::bigint, least($1::bigint, min(retention_ms)))
                                        * interval '1 millisecond' FROM group_settings)
), blobs AS (
  SELECT DISTINCT ON (a.sha256) a.sha256, a.size FROM artifacts a
  WHERE a.job_id IN (SELECT id FROM doomed) AND a.site IS NULL
), freed AS (
  SELECT b.sha256, b.size FROM blobs b
  WHERE NOT EXISTS (SELECT 1 FROM artifacts o WHERE o.sha256 = b.sha256
                    AND o.job_id NOT IN (SELECT id FROM doomed))
)
SELECT (SELECT count(*) FROM doomed)::int AS jobs,
       (SELECT coalesce(sum(task_count), 0) FROM doomed)::bigint AS tasks,
       ((SELECT count(*) FROM events e WHERE e.job_id IN (SELECT id FROM doomed))
        + (SELECT count(*) FROM events e WHERE e.job_id IS NULL AND $4::bigint IS NOT NULL
           AND e.at < now() - $4::bigint * interval '1 millisecond'))::bigint AS events,
       (SELECT count(*) FROM artifacts a WHERE a.job_id IN (SELECT id FROM doomed))::bigint AS artifacts,
       (SELECT count(*) FROM freed)::bigint AS blobs,
       (SELECT coalesce(sum(size), 0) FROM freed)::bigint AS bytes
