-- Not run as one statement: VACUUM cannot run inside a transaction block, so the engine sends these
-- one by one. Listed here so the set of tables lives with the rest of the SQL.
VACUUM (ANALYZE) tasks;
VACUUM (ANALYZE) attempts;
VACUUM (ANALYZE) jobs;
VACUUM (ANALYZE) job_stages;
VACUUM (ANALYZE) artifacts;
VACUUM (ANALYZE) workers;
VACUUM (ANALYZE) events
