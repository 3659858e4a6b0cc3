-- Every group with jobs, with its jobs counted by status and its newest submission, as the
-- protocol's GroupRecord.
SELECT jsonb_build_object(
  'name', group_name, 'jobs', count(*),
  'counts', jsonb_build_object(
    'queued', count(*) FILTER (WHERE status = 'queued'),
    'running', count(*) FILTER (WHERE status = 'running'),
    'succeeded', count(*) FILTER (WHERE status = 'succeeded'),
    'failed', count(*) FILTER (WHERE status = 'failed'),
    'cancelled', count(*) FILTER (WHERE status = 'cancelled')),
  'lastSubmittedAt', max(created_at)) AS "group"
FROM jobs GROUP BY group_name ORDER BY group_name
