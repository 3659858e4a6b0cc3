-- An attempt its worker gave back in an orderly shutdown (unstarted, or stopped unfinished at the
-- shutdown's deadline) ends `released`: the task did not fail and its worker did not vanish, so it
-- does not count against the task's attempts (see sql/release-attempts.sql).
ALTER TABLE attempts DROP CONSTRAINT attempts_status_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_status_check
  CHECK (status IN ('active', 'succeeded', 'failed', 'lost', 'timed_out', 'cancelled', 'released'));
