-- Files from anywhere: which replica holds which artifact bytes.
--
-- Each replica keeps blobs in its own store unless the farm shares one. A replica records here
-- every blob its store holds (when it stores the bytes, and the whole store when it joins the
-- farm); a download through another replica that lacks the bytes streams them from a holder.
-- A location goes with its replica's row (an orderly stop, or a sweep of a dead replica) and
-- when the replica deletes the blob.
CREATE TABLE blob_locations (
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  server_id uuid NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  -- When the replica last wrote these bytes: a sweep deleting an older copy keeps a fresher row.
  stored_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sha256, server_id)
);
-- The cascade from a replica's row.
CREATE INDEX blob_locations_server ON blob_locations (server_id);

-- What replicas show each other to fetch bytes from one another: two random UUIDs (244 random
-- bits), read only by those with the database's credentials (servers; never workers or clients).
ALTER TABLE farm ADD COLUMN replica_secret text NOT NULL
  DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
