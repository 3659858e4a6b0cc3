-- Of these sha256s, those no artifact references any more: their blobs may be deleted.
SELECT s.sha256 FROM unnest($1::text[]) AS s(sha256)
WHERE NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.sha256 = s.sha256)
