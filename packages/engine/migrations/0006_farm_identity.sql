-- The farm's identity: one id per database schema, shared by every server on it. What a server
-- keeps outside the database (the artifacts' bytes) is marked with it, so two farms never take
-- one directory for their own, and one farm's sweep never deletes another's files.
CREATE TABLE farm (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now(),
  single boolean NOT NULL DEFAULT true UNIQUE CHECK (single)
);
INSERT INTO farm DEFAULT VALUES;
