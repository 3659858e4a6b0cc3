-- What one try of a delivery came to ($2: the try it was, so a try whose lease ran out and was
-- taken again changes nothing): delivered or failed for good ($3), or pending again at $6 ms from
-- now. $4 is the receiver's status (null when it did not answer), $5 why it failed.
UPDATE webhook_deliveries
SET state = $3::text, last_status = $4::int, last_error = $5::text,
  due_at = CASE WHEN $3::text = 'pending' THEN now() + $6 * interval '1 millisecond' ELSE due_at END,
  finished_at = CASE WHEN $3::text = 'pending' THEN NULL ELSE now() END
WHERE id = $1::uuid AND tries = $2::int AND state = 'pending'
RETURNING webhook_delivery_json(webhook_deliveries) AS delivery
