-- The cursor after the last event of a topic visible now: read from here to get only what comes
-- next. Every event not yet visible belongs to a transaction at or past the snapshot's xmin, so it
-- sorts after this cursor.
SELECT tx::text AS tx, id::text AS id FROM events
WHERE topic = $1 AND tx < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY events.tx DESC, events.id DESC LIMIT 1
