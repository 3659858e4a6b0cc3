-- Artifacts: files tasks produced. Only their description lives here; the bytes live in the
-- server's content-addressed store under their sha256, which several artifacts may share.

CREATE TABLE artifacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),   -- unguessable: downloads go by id
  -- Upload order, for listing and paging; never leaves the engine.
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  job_id uuid NOT NULL,
  task_id bigint NOT NULL,
  attempt_id bigint NOT NULL,
  attempt int NOT NULL,
  name text NOT NULL,
  content_type text NOT NULL,
  size bigint NOT NULL CHECK (size >= 0),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- One file per name per attempt; a retried attempt writes its own.
  UNIQUE (task_id, attempt, name)
);
CREATE INDEX artifacts_job ON artifacts (job_id, seq);
CREATE INDEX artifacts_task ON artifacts (task_id, seq);
-- Whether a blob is still referenced, when the store is swept.
CREATE INDEX artifacts_sha256 ON artifacts (sha256);

CREATE FUNCTION artifact_json(a artifacts) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', a.id, 'jobId', a.job_id, 'taskId', a.task_id::text, 'attemptId', a.attempt_id::text,
    'attempt', a.attempt, 'name', a.name, 'contentType', a.content_type, 'size', a.size,
    'sha256', a.sha256, 'createdAt', a.created_at)
$$;

-- Live views of a job learn of its files as they are stored.
CREATE FUNCTION artifacts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (topic, kind, subject, job_id, data)
  SELECT 'job/' || n.job_id, 'artifact.added', n.id::text, n.job_id, artifact_json(n)
  FROM new_rows n ORDER BY n.seq;
  RETURN NULL;
END
$$;
CREATE TRIGGER artifacts_inserted AFTER INSERT ON artifacts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION artifacts_inserted();

-- A removed job's artifacts go with it, whatever removed it (retention or anything later). Their
-- blobs stay until the server's sweep finds no artifact left that references them.
CREATE FUNCTION jobs_deleted_artifacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM artifacts WHERE job_id IN (SELECT id FROM old_rows);
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_deleted_artifacts AFTER DELETE ON jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_deleted_artifacts();
