INSERT INTO job_stages (job_id, stage, task_count)
SELECT $1::uuid, s.stage, s.task_count
FROM jsonb_to_recordset($2::jsonb) AS s(stage int, task_count int)
