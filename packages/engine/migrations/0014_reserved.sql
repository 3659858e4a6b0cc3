-- Number 0014 belongs to a schema change made apart from 0015; this file changes nothing and
-- goes when that change is merged.
SELECT 1;
