-- The first step of groups.pause and groups.resume: the group's lock, exclusive, which a job
-- entering the group takes shared (group_is_paused, migration 0012), so that a job submitted at
-- the same moment is either seen by the change or sees it.
SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.group.' || $1))
