-- Number 0013 belongs to a schema change made apart from 0014; this file changes nothing and
-- goes when that change is merged.
SELECT 1;
