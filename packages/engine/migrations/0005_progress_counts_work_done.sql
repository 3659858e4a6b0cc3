-- A job's progress is the share of its work done: a succeeded task counts whole, a failed or
-- cancelled one not at all (its work is void), a running one by its own progress. A cancelled
-- job with nothing done shows 0%, not 100%; its status says it is over.
CREATE OR REPLACE FUNCTION effective_progress(status text, progress double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN status = 'succeeded' THEN 1
              WHEN status IN ('failed', 'cancelled') THEN 0
              ELSE least(1, greatest(0, progress)) END
$$;

-- Every job's sum again, under the new rule: the tasks trigger adds differences from now on.
-- Task changes wait meanwhile, so none is folded into a sum this recomputation overwrites.
LOCK TABLE tasks, jobs IN SHARE ROW EXCLUSIVE MODE;
UPDATE jobs j SET progress_sum = s.sum
FROM (SELECT job_id, sum(effective_progress(status, progress)) AS sum FROM tasks GROUP BY job_id) s
WHERE s.job_id = j.id AND j.progress_sum IS DISTINCT FROM s.sum;
