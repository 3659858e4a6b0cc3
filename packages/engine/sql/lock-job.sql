-- A job's row, locked for the rest of the transaction: the first lock of a change that also
-- touches its waiting tasks.
SELECT id FROM jobs WHERE id = $1 FOR UPDATE
