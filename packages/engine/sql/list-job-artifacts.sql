-- A job's artifacts in upload order, after the one given (if any;
-- an unknown one gives nothing, so a pager never starts over).
SELECT artifact_json(a) AS artifact FROM artifacts a
WHERE a.job_id = $1::uuid
  AND ($2::uuid IS NULL OR a.seq > (SELECT p.seq FROM artifacts p WHERE p.id = $2::uuid))
ORDER BY a.seq LIMIT $3
