-- Takes up to $1 due deliveries for this server to try, oldest due first, and leases them for $2
-- ms (due_at moves past the try; `tries` counts it): another server skips what one has taken, and
-- takes it again only once a lease ran out (its server died mid-try). Answers each with its
-- webhook's URL and secret, which never leave the server.
WITH due AS (
  SELECT d.id FROM webhook_deliveries d
  WHERE d.state = 'pending' AND d.due_at <= now()
  ORDER BY d.due_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET tries = d.tries + 1, due_at = now() + $2 * interval '1 millisecond', last_try_at = now()
FROM due, webhooks h
WHERE d.id = due.id AND h.id = d.webhook_id
RETURNING d.id::text AS id, d.event, d.data, d.created_at AS at, d.tries, h.url, h.secret
