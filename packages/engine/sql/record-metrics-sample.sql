-- One sample of the farm for the interval of $1 ms that ended last (the latest multiple of $1 ms
-- since the epoch), unless a server of the farm recorded it already: then nothing is computed.
-- Samples older than $2 ms go with it. Answers the sample if this call recorded it.
WITH bucket AS (
  SELECT to_timestamp(floor(extract(epoch FROM statement_timestamp()) * 1000 / $1::bigint)
                      * $1::bigint / 1000.0) AS at
), recorded AS (
  INSERT INTO metrics_samples
    (at, interval_ms, queued, running, workers_online, workers_busy, succeeded, failed)
  SELECT b.at, $1::int,
    (SELECT coalesce(sum(j.queued_count), 0) FROM jobs j WHERE j.status IN ('queued', 'running')),
    (SELECT count(*) FROM attempts a WHERE a.status = 'active'),
    (SELECT count(*) FROM workers w WHERE w.state <> 'offline'),
    (SELECT count(DISTINCT a.worker_id) FROM attempts a WHERE a.status = 'active'),
    (SELECT count(*) FROM tasks t
      WHERE t.finished_at >= b.at - $1::bigint * interval '1 millisecond' AND t.finished_at < b.at
        AND t.status = 'succeeded'),
    (SELECT count(*) FROM tasks t
      WHERE t.finished_at >= b.at - $1::bigint * interval '1 millisecond' AND t.finished_at < b.at
        AND t.status = 'failed')
  FROM bucket b
  WHERE NOT EXISTS (SELECT 1 FROM metrics_samples s WHERE s.at = b.at)
  ON CONFLICT (at) DO NOTHING
  RETURNING *
), pruned AS (
  DELETE FROM metrics_samples s
  WHERE s.at < (SELECT r.at FROM recorded r) - $2::bigint * interval '1 millisecond'
)
SELECT jsonb_build_object(
  'at', r.at, 'intervalMs', r.interval_ms, 'queued', r.queued, 'running', r.running,
  'workersOnline', r.workers_online, 'workersBusy', r.workers_busy,
  'succeeded', r.succeeded, 'failed', r.failed) AS sample
FROM recorded r
