-- tasks.why: what the farm knows now about why the task $1 is not running, as facts for
-- why.ts to turn into reasons: the task, its job, its stage, the online workers that offer its
-- type (and of those, the ones with its tags, not blocked for its job, and their free slots), its
-- group's and type's limits with what counts against them, and the tasks ahead of it in its
-- group's queue. No row: no such task.
WITH t AS (
  SELECT t.* FROM tasks t WHERE t.id = $1
), j AS (
  SELECT j.* FROM jobs j JOIN t ON j.id = t.job_id
), offering AS (
  SELECT w.id, w.slots, w.tags,
         (SELECT count(*) FROM attempts a WHERE a.worker_id = w.id AND a.status = 'active') AS busy
  FROM workers w, t
  WHERE w.state = 'online' AND t.task_type = ANY(w.task_types)
), capable AS (
  SELECT o.* FROM offering o, t WHERE t.tags <@ o.tags
), allowed AS (
  SELECT c.* FROM capable c, j WHERE NOT (c.id = ANY(j.blocked_workers))
), gl AS (
  SELECT l.* FROM group_limits l JOIN t ON l.group_name = t.group_name
), tl AS (
  SELECT l.* FROM task_type_limits l JOIN t ON l.task_type = t.task_type
)
SELECT jsonb_build_object(
  'status', t.status, 'runAt', t.run_at, 'now', now(), 'stage', t.stage, 'taskType', t.task_type,
  'tags', to_jsonb(t.tags), 'group', t.group_name,
  'jobPaused', j.paused, 'groupPaused', j.group_paused, 'cancelling', j.cancel_reason IS NOT NULL,
  'site', j.site,
  'stageBefore', CASE WHEN t.stage > 0 THEN (
    SELECT jsonb_build_object('stage', t.stage - 1,
      'left', count(*) FILTER (WHERE b.status NOT IN ('succeeded', 'failed', 'cancelled')),
      'tasks', count(*))
    FROM tasks b WHERE b.job_id = t.job_id AND b.stage = t.stage - 1) END,
  'offering', (SELECT count(*) FROM offering),
  'missingTags', (SELECT to_jsonb(coalesce(array_agg(DISTINCT m.tag ORDER BY m.tag), '{}'))
                  FROM offering o CROSS JOIN LATERAL unnest(t.tags) AS m(tag)
                  WHERE NOT (m.tag = ANY(o.tags))),
  'capable', (SELECT count(*) FROM capable),
  'allowed', (SELECT count(*) FROM allowed),
  'slots', (SELECT coalesce(sum(a.slots), 0) FROM allowed a),
  'busy', (SELECT coalesce(sum(least(a.busy, a.slots)), 0) FROM allowed a),
  'groupLimit', (SELECT jsonb_build_object(
      'maxRunning', gl.max_running, 'ratePerMinute', gl.rate_per_minute, 'weight', gl.weight,
      'tokens', least(greatest(1, gl.rate_per_minute / 60.0),
                      gl.tokens + extract(epoch FROM now() - gl.tokens_at) * gl.rate_per_minute / 60.0))
    FROM gl),
  'groupRunning', (SELECT coalesce(sum(x.leased_count + x.running_count), 0) FROM jobs x
                   WHERE x.group_name = t.group_name AND x.status IN ('queued', 'running')),
  'typeLimit', (SELECT tl.max_running FROM tl),
  'typeRunning', CASE WHEN EXISTS (SELECT 1 FROM tl) THEN (
    SELECT count(*) FROM attempts a JOIN tasks x ON x.id = a.task_id
    WHERE a.status = 'active' AND x.task_type = t.task_type) END,
  'ahead', CASE WHEN t.status = 'queued' THEN (
    SELECT count(*) FROM tasks q
    WHERE q.task_type = t.task_type AND q.group_name = t.group_name AND q.status = 'queued'
      AND q.run_at <= now() AND q.id <> t.id
      AND (q.held_back, -q.priority, q.run_at, q.id) < (t.held_back, -t.priority, t.run_at, t.id)) END
) AS facts
FROM t, j
