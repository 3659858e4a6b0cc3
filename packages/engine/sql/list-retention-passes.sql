-- The recorded retention passes, oldest first.
SELECT jsonb_build_object(
  'id', id, 'serverId', server_id, 'scheduled', scheduled,
  'startedAt', started_at, 'finishedAt', finished_at, 'jobs', jobs, 'tasks', tasks,
  'events', events, 'artifacts', artifacts, 'blobs', blobs, 'bytes', bytes) AS pass
FROM retention_passes ORDER BY id
