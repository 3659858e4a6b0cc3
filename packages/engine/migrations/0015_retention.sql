-- Retention on a schedule: how long each group keeps its finished jobs, which replica runs the
-- farm's pass, and what each pass deleted.

-- A group's own retention, which wins over the farm's (`drover server --retention`). No row: the
-- farm's. A row whose retention_ms is NULL: the group keeps its finished jobs forever.
CREATE TABLE group_settings (
  group_name text PRIMARY KEY,
  retention_ms bigint CHECK (retention_ms > 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The scheduled pass runs on one replica at a time: the one whose id is in retention_holder,
-- until retention_until (renewed after each batch, so that a replica that died mid-pass gives
-- the pass up to the next one). retention_last_at says when the farm's last pass ended, so that
-- however many replicas run, the farm runs one pass per interval.
ALTER TABLE farm ADD COLUMN retention_holder uuid;
ALTER TABLE farm ADD COLUMN retention_until timestamptz;
ALTER TABLE farm ADD COLUMN retention_last_at timestamptz;

-- Each pass, scheduled or asked for (`drover prune`), and what it deleted: for operators, and
-- to check that two replicas never run the scheduled pass at once. Kept for 1,000 passes.
CREATE TABLE retention_passes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  server_id uuid NOT NULL,
  scheduled boolean NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  jobs bigint NOT NULL,
  tasks bigint NOT NULL,
  events bigint NOT NULL,
  artifacts bigint NOT NULL,
  blobs bigint NOT NULL,
  bytes bigint NOT NULL
);
