-- A user's retry gives a failed or cancelled task as many attempts again as it was submitted with.
-- max_attempts then grows past that number, so the submitted one is kept here on the first retry
-- (NULL until then: max_attempts is still the submitted number).
ALTER TABLE tasks ADD COLUMN attempt_budget int;

-- The group listing counts jobs per group and status without reading the jobs' other columns.
CREATE INDEX jobs_group_status ON jobs (group_name, status);
