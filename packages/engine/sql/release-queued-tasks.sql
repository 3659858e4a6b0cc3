-- The first step of a resume, in a transaction of its own before the jobs' rows are touched: the
-- queued tasks of the jobs $1 that the pause held back take their place in the queue again. It
-- locks tasks only, waiting for those being claimed or cancelled, then the tasks trigger locks
-- their jobs: the order every report keeps. Until the resume commits their jobs' rows keep them
-- from starting.
UPDATE tasks SET held_back = false
WHERE job_id = ANY ($1::uuid[]) AND status = 'queued' AND held_back
