-- One state for every worker a filter selects, in one statement: $1 ids, $2 names, $3 hosts,
-- $4 tags (each of them), $5 states, $6 text in the name or host (any case); each condition NULL
-- when not given. Of those, the workers in one of the states $8 are set to $7 (an action changes
-- only the workers it means something for). Answers how many the filter selected, and the
-- changed workers by name.
WITH selected AS (
  SELECT w.id, w.state FROM workers w
  WHERE ($1::uuid[] IS NULL OR w.id = ANY ($1))
    AND ($2::text[] IS NULL OR w.name = ANY ($2))
    AND ($3::text[] IS NULL OR w.host = ANY ($3))
    AND ($4::text[] IS NULL OR w.tags @> $4)
    AND ($5::text[] IS NULL OR w.state = ANY ($5))
    AND ($6::text IS NULL OR strpos(lower(w.name), lower($6)) > 0 OR strpos(lower(w.host), lower($6)) > 0)
  FOR UPDATE
), changed AS (
  UPDATE workers w SET state = $7, last_seen_at = now()
  FROM selected s WHERE w.id = s.id AND s.state = ANY ($8::text[])
  RETURNING w.name, worker_json(w) AS worker
)
SELECT (SELECT count(*) FROM selected)::int AS matched,
       coalesce((SELECT jsonb_agg(c.worker ORDER BY c.name) FROM changed c), '[]'::jsonb) AS workers
