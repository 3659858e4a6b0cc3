-- The jobs of group $1 a bulk action selects, oldest first, at most $9: those of statuses $2,
-- ids $3, text $4 in the name or task type (any case) or starting the id, task types $5, created
-- before $6 and at or after $7 (each condition NULL when not given), and, of those, only the jobs
-- the action $8 would change, so that calling again moves on to the next ones. $10 is the
-- priority of a setPriority.
SELECT j.id::text AS id FROM jobs j
WHERE j.group_name = $1
  AND ($2::text[] IS NULL OR j.status = ANY ($2))
  AND ($3::uuid[] IS NULL OR j.id = ANY ($3))
  AND ($4::text IS NULL OR strpos(lower(j.name), lower($4)) > 0
       OR strpos(lower(j.task_type), lower($4)) > 0 OR left(j.id::text, length($4)) = lower($4))
  AND ($5::text[] IS NULL OR j.task_type = ANY ($5))
  AND ($6::timestamptz IS NULL OR j.created_at < $6)
  AND ($7::timestamptz IS NULL OR j.created_at >= $7)
  AND CASE $8::text
    -- Not finished, and not cancelled already (unless tasks of it are still queued).
    WHEN 'cancel' THEN j.finished_at IS NULL AND (j.cancel_reason IS NULL OR j.queued_count > 0)
    -- Failed or cancelled tasks, and no cancel still stopping held ones (a retry would refuse).
    WHEN 'retry' THEN j.failed_count + j.cancelled_count > 0
      AND NOT (j.cancel_reason IS NOT NULL AND j.leased_count + j.running_count > 0)
    WHEN 'remove' THEN j.finished_at IS NOT NULL
    WHEN 'setPriority' THEN j.priority <> $10::int
    ELSE false
  END
ORDER BY j.created_at, j.id
LIMIT $9
