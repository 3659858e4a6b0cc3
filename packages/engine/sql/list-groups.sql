-- Every group with jobs, with its jobs counted by status and its newest submission.
SELECT group_name AS name, count(*)::int AS jobs,
  count(*) FILTER (WHERE status = 'queued')::int AS queued,
  count(*) FILTER (WHERE status = 'running')::int AS running,
  count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
  count(*) FILTER (WHERE status = 'failed')::int AS failed,
  count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
  max(created_at) AS last_submitted_at
FROM jobs GROUP BY group_name ORDER BY group_name
