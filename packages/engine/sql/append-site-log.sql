-- Log lines a site's task wrote, as this farm's task $1 (of job $2) writes them: one `task.log`
-- event per batch ($3, a JSON array of {attempt, lines}) on the task's log topic.
INSERT INTO events (topic, kind, subject, job_id, data)
SELECT 'task/' || $1::bigint || '/log', 'task.log', $1::bigint::text, $2::uuid,
       jsonb_build_object('taskId', $1::bigint::text, 'attempt', (b.batch ->> 'attempt')::int,
                          'lines', b.batch -> 'lines')
FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS b(batch, n)
ORDER BY b.n
