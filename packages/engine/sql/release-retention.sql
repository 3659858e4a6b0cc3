-- Replica $1 ended its pass: the next is due an interval from now.
UPDATE farm SET retention_holder = NULL, retention_until = NULL, retention_last_at = now()
WHERE retention_holder = $1
