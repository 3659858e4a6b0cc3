-- The jobs groups.resume starts again: those of the group $1 paused with it and not on their
-- own. Read before any lock: the first step of the resume releases their queued tasks.
SELECT id FROM jobs WHERE group_name = $1 AND group_paused AND NOT paused
