-- One job, with its task counts known from the expansion. Nothing is returned when the group
-- already has a job under the idempotency key.
INSERT INTO jobs (id, group_name, name, task_type, params, priority, status, task_count,
                  queued_count, blocked_count, idempotency_key, submission_hash)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, 'queued', $7, $8, $9, $10, $11)
ON CONFLICT (group_name, idempotency_key) DO NOTHING
RETURNING job_json(jobs) AS job
