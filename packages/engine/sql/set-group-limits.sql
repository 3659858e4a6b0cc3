-- groups.setLimits: the group $1's limits and weight, changed by the keys present in $2
-- ({"maxRunning", "ratePerMinute", "weight"}; a null limit is no limit), by $3. A new rate starts
-- with a full bucket. A row left with no limit and weight 1 is removed: it would only make claims
-- read it. Wakes the dispatchers: a limit raised or lifted may let tasks start.
WITH patch AS (
  SELECT $2::jsonb AS p
), merged AS (
  SELECT CASE WHEN patch.p ? 'maxRunning' THEN (patch.p ->> 'maxRunning')::int ELSE l.max_running END AS max_running,
         CASE WHEN patch.p ? 'ratePerMinute' THEN (patch.p ->> 'ratePerMinute')::int ELSE l.rate_per_minute END AS rate_per_minute,
         CASE WHEN patch.p ? 'weight' THEN (patch.p ->> 'weight')::int ELSE coalesce(l.weight, 1) END AS weight,
         CASE WHEN patch.p ? 'ratePerMinute' OR l.group_name IS NULL
              THEN greatest(1, coalesce((patch.p ->> 'ratePerMinute')::numeric, 60) / 60.0) ELSE l.tokens END AS tokens,
         CASE WHEN patch.p ? 'ratePerMinute' OR l.group_name IS NULL THEN now() ELSE l.tokens_at END AS tokens_at
  FROM patch LEFT JOIN group_limits l ON l.group_name = $1
), upserted AS (
  INSERT INTO group_limits AS l (group_name, max_running, rate_per_minute, weight, tokens, tokens_at, updated_by)
  SELECT $1, m.max_running, m.rate_per_minute, m.weight, m.tokens, m.tokens_at, $3 FROM merged m
  WHERE m.max_running IS NOT NULL OR m.rate_per_minute IS NOT NULL OR m.weight <> 1
  ON CONFLICT (group_name) DO UPDATE SET
    max_running = excluded.max_running, rate_per_minute = excluded.rate_per_minute,
    weight = excluded.weight, tokens = excluded.tokens, tokens_at = excluded.tokens_at,
    updated_at = now(), updated_by = excluded.updated_by
), removed AS (
  DELETE FROM group_limits l USING merged m
  WHERE l.group_name = $1 AND m.max_running IS NULL AND m.rate_per_minute IS NULL AND m.weight = 1
)
SELECT jsonb_build_object('group', $1::text, 'maxRunning', m.max_running,
                          'ratePerMinute', m.rate_per_minute, 'weight', m.weight) AS limits,
       pg_notify(current_schema() || '_events', 'queue')
FROM merged m
