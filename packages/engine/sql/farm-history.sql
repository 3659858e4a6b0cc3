-- The farm's samples after $1, in buckets of $2 ms: a bucket's finished tasks and the time its
-- samples cover are summed, its gauges (queue, running, workers) at their highest, its time the
-- latest sample's. Oldest first.
SELECT jsonb_build_object(
  'at', max(s.at), 'intervalMs', sum(s.interval_ms), 'queued', max(s.queued),
  'running', max(s.running), 'workersOnline', max(s.workers_online),
  'workersBusy', max(s.workers_busy), 'succeeded', sum(s.succeeded), 'failed', sum(s.failed)
) AS sample
FROM metrics_samples s
WHERE s.at > $1::timestamptz
GROUP BY floor(extract(epoch FROM s.at) * 1000 / $2::bigint)
ORDER BY max(s.at)
