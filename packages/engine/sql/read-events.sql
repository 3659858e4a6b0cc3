-- Events of one topic after a cursor, in order. Only transactions older than every running one
-- are read, so an event that commits late is never skipped: it is read when its turn comes.
-- The order names the columns, not the text outputs of the same names: '1000' sorts before '999'.
SELECT tx::text AS tx, id::text AS id, topic, kind, subject, data, at
FROM events
WHERE topic = $1 AND (tx, id) > ($2::xid8, $3::bigint)
  AND tx < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY events.tx, events.id
LIMIT $4
