-- The first statement of a change that brings a job back from finished (jobs.extend, jobs.retry):
-- whether its group is paused, read after any pause or resume of the group under way (see
-- group_is_paused in migration 0012). Before the job's row is locked, the lock order pausing a
-- group keeps.
SELECT group_is_paused(j.group_name) AS paused FROM jobs j WHERE j.id = $1
