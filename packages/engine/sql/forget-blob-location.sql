-- A replica deleted blob $1, which no artifact referenced: its locations recorded before $2 go,
-- every replica's (on a shared directory, the others' copy was this one; another replica's own
-- copy is unreferenced too, and swept there). A location written since stays: the same bytes
-- were stored again meanwhile.
DELETE FROM blob_locations WHERE sha256 = $1 AND stored_at < $2::timestamptz
