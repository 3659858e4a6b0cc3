-- Calls per token per minute, counted by every server of a farm: each adds its own calls every
-- second and reads the total, so that a token's limit holds across replicas.
CREATE TABLE rate_counts (
  token_id text NOT NULL,
  window_start timestamptz NOT NULL,
  calls int NOT NULL,
  PRIMARY KEY (token_id, window_start)
);
