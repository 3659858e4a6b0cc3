-- Replica $1 still runs the pass: its hold lasts $2 ms more. No row: the hold lapsed and another
-- replica may have taken the pass (its batches and this one's skip each other's jobs).
UPDATE farm SET retention_until = now() + $2 * interval '1 millisecond'
WHERE retention_holder = $1
RETURNING true AS held
