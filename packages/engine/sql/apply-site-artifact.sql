-- A site's `artifact.added` for one of this farm's site jobs ($1): a record of this farm, on the
-- task the site's task id ($2) maps to, pointing at the site's artifact ($3) for downloads. The
-- artifacts trigger tells the job's subscribers. Returns the task it went to (none: unmapped).
INSERT INTO artifacts (job_id, task_id, attempt_id, attempt, name, content_type, size, sha256, site, remote_id)
SELECT st.job_id, st.task_id, $4::bigint, $5, $6, $7, $8, $9, sj.site, $3::uuid
FROM site_tasks st JOIN site_jobs sj ON sj.job_id = st.job_id
WHERE st.job_id = $1::uuid AND st.remote_task_id = $2
ON CONFLICT (task_id, attempt, name) DO UPDATE SET remote_id = artifacts.remote_id
RETURNING task_id::text AS task_id
