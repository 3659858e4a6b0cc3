-- jobs.pause ($2 true) and jobs.resume ($2 false), in one statement. Claims read the job's row for
-- each candidate task, so from the commit on no task of a paused job starts; tasks workers hold
-- are not touched. Resuming a job also lifts its group's pause from it: it runs while the rest of
-- its group waits. The job's record is read apart: a job already as asked is not written.
UPDATE jobs SET paused = $2, group_paused = group_paused AND $2, updated_at = now()
WHERE id = $1 AND (paused <> $2 OR (group_paused AND NOT $2))
RETURNING id
