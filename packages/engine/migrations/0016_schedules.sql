-- Schedules: a job submitted again at each tick of a cron expression, in a time zone. Every
-- server of the farm runs a ticker; each claims the schedules that are due with FOR UPDATE SKIP
-- LOCKED, submits their jobs and moves next_run_at on in one transaction, so a tick submits once
-- however many servers run. The job's idempotency key, schedule:<id>:<tick>, guards it again.
-- The cron arithmetic is the server's (croner): the database keeps the next tick, not the rule.
CREATE TABLE schedules (
  id uuid PRIMARY KEY,
  name text NOT NULL UNIQUE,
  group_name text NOT NULL,
  cron text NOT NULL,
  timezone text NOT NULL,
  overlap text NOT NULL CHECK (overlap IN ('skip', 'queue', 'cancel')),
  catch_up text NOT NULL CHECK (catch_up IN ('none', 'last')),
  -- The submission each tick makes, as checked when the schedule was added or updated.
  job jsonb NOT NULL,
  paused boolean NOT NULL DEFAULT false,
  -- The next tick; NULL while paused (resuming sets it from the time of the resume).
  next_run_at timestamptz,
  -- The last tick handled, and what came of it: 'submitted', 'skipped' (the previous job had not
  -- ended, with overlap 'skip'), 'missed' (no server ran at the time, with catch_up 'none') or
  -- 'failed' (the job was refused: the reason says why).
  last_tick_at timestamptz,
  last_outcome text CHECK (last_outcome IN ('submitted', 'skipped', 'missed', 'failed')),
  last_reason text,
  -- The last job submitted (by a tick or run-now), and when: the overlap policy looks at it.
  last_run_at timestamptz,
  last_job_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The tickers' one query: the earliest due schedules that are not paused.
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;

CREATE FUNCTION schedule_json(s schedules) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', s.id, 'name', s.name, 'group', s.group_name, 'cron', s.cron, 'timezone', s.timezone,
    'overlap', s.overlap, 'catchUp', s.catch_up, 'job', s.job, 'paused', s.paused,
    'nextRunAt', s.next_run_at, 'lastTickAt', s.last_tick_at, 'lastRunAt', s.last_run_at,
    'lastJobId', s.last_job_id, 'lastOutcome', s.last_outcome, 'lastReason', s.last_reason,
    'createdAt', s.created_at, 'createdBy', s.created_by, 'updatedAt', s.updated_at)
$$;
