-- Who may do what. A token is a random secret held by a person or a machine; only its sha256 is
-- kept. Its role says what it may do: admin everything, member the jobs of its groups (read, or
-- read and write), worker the worker methods (optionally only some task types and tags).
CREATE TABLE tokens (
  id text PRIMARY KEY,                   -- tok_ and 12 letters or digits: public, for listing and revoking
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'member', 'worker')),
  groups jsonb NOT NULL DEFAULT '{}',    -- member: {"<group>" or "*": "read" | "write"}
  task_types text[],                     -- worker: null for any
  tags text[],                           -- worker: null for any
  hash bytea NOT NULL UNIQUE,            -- sha256 of the secret
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text,
  last_used_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz
);

-- A browser signed in: the cookie's secret, hashed, standing for the token it signed in with.
-- Revoking the token ends its sessions (they are read joined to it).
CREATE TABLE sessions (
  hash bytea PRIMARY KEY,
  token_id text NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_token ON sessions (token_id);

-- One-time sign-in links (GET /login?code=...): a code is deleted as it is used.
CREATE TABLE login_codes (
  hash bytea PRIMARY KEY,
  token_id text NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL
);
CREATE INDEX login_codes_token ON login_codes (token_id);

CREATE FUNCTION token_json(t tokens) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', t.id, 'name', t.name, 'role', t.role, 'groups', t.groups,
    'taskTypes', to_jsonb(t.task_types), 'tags', to_jsonb(t.tags), 'createdAt', t.created_at,
    'createdBy', t.created_by, 'lastUsedAt', t.last_used_at, 'expiresAt', t.expires_at,
    'revokedAt', t.revoked_at)
$$;
