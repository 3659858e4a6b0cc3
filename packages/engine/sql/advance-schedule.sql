-- A schedule's tick is handled: its next tick, what came of this one, and the job it submitted
-- ($6, NULL when none: the last run stays the one before).
UPDATE schedules
SET next_run_at = $2, last_tick_at = $3, last_outcome = $4, last_reason = $5,
    last_job_id = coalesce($6, last_job_id),
    last_run_at = CASE WHEN $6::uuid IS NULL THEN last_run_at ELSE now() END
WHERE id = $1
