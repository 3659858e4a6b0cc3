-- groups.pause ($2 true) of the group's jobs still to finish, or groups.resume ($2 false) of every
-- job of the group paused with it (a finished job that comes back takes the group's pause then:
-- take-group-pause.sql). The rows are locked in id order first, the order the tasks trigger locks
-- jobs in, so that this cannot deadlock with a batch of reports.
WITH locked AS (
  SELECT id FROM jobs
  WHERE group_name = $1 AND group_paused <> $2 AND (finished_at IS NULL OR NOT $2)
  ORDER BY id
  FOR UPDATE
)
UPDATE jobs j SET group_paused = $2, updated_at = now()
FROM locked WHERE j.id = locked.id
RETURNING j.id, j.paused
