-- The farm's history, for the overview (decision 0037). Every few seconds one server of the farm
-- records one sample: the queue, what runs, the workers, and the tasks that finished in the
-- interval. `at` is the interval's end, a multiple of the interval since the epoch, so that the
-- servers of a farm sampling the same interval name the same row and the first one keeps it.
CREATE TABLE metrics_samples (
  at timestamptz PRIMARY KEY,
  interval_ms int NOT NULL,
  queued int NOT NULL,            -- tasks queued, ready or waiting for their run-at
  running int NOT NULL,           -- active attempts: tasks leased or running
  workers_online int NOT NULL,    -- workers connected (any state but offline)
  workers_busy int NOT NULL,      -- workers holding at least one attempt
  succeeded int NOT NULL,         -- tasks that finished succeeded from at - interval until at
  failed int NOT NULL             -- tasks that finished failed in the same interval
);

-- Tasks by when they finished: the samples' and the overview's counts of recent outcomes read a
-- range of this, never the table. Partial, so waiting and running tasks add nothing to it.
CREATE INDEX tasks_finished ON tasks (finished_at, status) WHERE finished_at IS NOT NULL;

-- The jobs with work left: the queue's size is the sum of their counts, read without walking the
-- finished jobs that retention keeps.
CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE status IN ('queued', 'running');
