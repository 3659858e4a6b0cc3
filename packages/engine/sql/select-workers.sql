-- The workers a filter selects, locked for the change that follows: $1 ids, $2 names, $3 hosts,
-- $4 tags (each of them), $5 states, $6 text in the name or host (any case); each condition NULL
-- when not given.
SELECT w.id::text AS id, w.state, w.hold FROM workers w
WHERE ($1::uuid[] IS NULL OR w.id = ANY ($1))
  AND ($2::text[] IS NULL OR w.name = ANY ($2))
  AND ($3::text[] IS NULL OR w.host = ANY ($3))
  AND ($4::text[] IS NULL OR w.tags @> $4)
  AND ($5::text[] IS NULL OR w.state = ANY ($5))
  AND ($6::text IS NULL OR strpos(lower(w.name), lower($6)) > 0 OR strpos(lower(w.host), lower($6)) > 0)
ORDER BY w.id
FOR UPDATE
