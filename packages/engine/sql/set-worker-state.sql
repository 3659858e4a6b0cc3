-- What one connection of a worker ($3: its session) makes of its state: draining as it leaves,
-- unresponsive while its heartbeats stop, back to online when they resume. Nothing changes when a
-- newer session holds the worker, or when an operator's hold says otherwise (a disabled worker
-- stays disabled, a drained one draining).
UPDATE workers SET state = CASE
    WHEN $2::text = 'unresponsive' AND state <> 'disabled' THEN 'unresponsive'
    ELSE coalesce(hold, $2::text) END,
  last_seen_at = CASE WHEN $2::text IN ('online', 'draining') THEN now() ELSE last_seen_at END
WHERE id = $1 AND session = $3::bigint
RETURNING worker_json(workers) AS worker
