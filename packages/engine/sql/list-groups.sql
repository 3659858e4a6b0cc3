-- Every group with jobs, paused, with limits or with a retention of its own (or only the group
-- $1, when given), as the protocol's GroupRecord: its jobs counted by status, its newest
-- submission, whether it is paused, its tasks over all its jobs counted by status with the share
-- of their work done, its limits and weight (groups.setLimits) and its retention.
WITH g AS (
  SELECT group_name, count(*) AS jobs,
    count(*) FILTER (WHERE status = 'queued') AS queued,
    count(*) FILTER (WHERE status = 'running') AS running,
    count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
    sum(task_count) AS task_count, sum(progress_sum) AS progress_sum,
    sum(queued_count) AS t_queued, sum(blocked_count) AS t_blocked, sum(leased_count) AS t_leased,
    sum(running_count) AS t_running, sum(succeeded_count) AS t_succeeded,
    sum(failed_count) AS t_failed, sum(cancelled_count) AS t_cancelled,
    max(created_at) AS last_submitted_at
  FROM jobs WHERE $1::text IS NULL OR group_name = $1
  GROUP BY group_name
), named AS (
  SELECT group_name FROM g
  UNION
  SELECT group_name FROM paused_groups WHERE $1::text IS NULL OR group_name = $1
  UNION
  SELECT group_name FROM group_limits WHERE $1::text IS NULL OR group_name = $1
  UNION
  SELECT group_name FROM group_settings WHERE $1::text IS NULL OR group_name = $1
)
SELECT jsonb_build_object(
  'name', n.group_name, 'jobs', coalesce(g.jobs, 0),
  'counts', jsonb_build_object(
    'queued', coalesce(g.queued, 0), 'running', coalesce(g.running, 0),
    'succeeded', coalesce(g.succeeded, 0), 'failed', coalesce(g.failed, 0),
    'cancelled', coalesce(g.cancelled, 0)),
  'paused', p.group_name IS NOT NULL,
  'taskCount', coalesce(g.task_count, 0),
  'taskCounts', jsonb_build_object(
    'queued', coalesce(g.t_queued, 0), 'blocked', coalesce(g.t_blocked, 0),
    'leased', coalesce(g.t_leased, 0), 'running', coalesce(g.t_running, 0),
    'succeeded', coalesce(g.t_succeeded, 0), 'failed', coalesce(g.t_failed, 0),
    'cancelled', coalesce(g.t_cancelled, 0)),
  'progress', CASE WHEN coalesce(g.task_count, 0) = 0 THEN 0
                   ELSE least(1, greatest(0, round((g.progress_sum / g.task_count)::numeric, 6))) END,
  'lastSubmittedAt', g.last_submitted_at,
  'limits', jsonb_build_object('maxRunning', l.max_running, 'ratePerMinute', l.rate_per_minute,
                               'weight', coalesce(l.weight, 1)),
  'retention', CASE WHEN r.group_name IS NULL THEN to_jsonb('default'::text)
                    WHEN r.retention_ms IS NULL THEN to_jsonb('off'::text)
                    ELSE to_jsonb(r.retention_ms) END) AS "group"
FROM named n
LEFT JOIN g ON g.group_name = n.group_name
LEFT JOIN paused_groups p ON p.group_name = n.group_name
LEFT JOIN group_limits l ON l.group_name = n.group_name
LEFT JOIN group_settings r ON r.group_name = n.group_name
ORDER BY n.group_name
