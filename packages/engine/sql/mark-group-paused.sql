-- groups.pause: the group is paused from now on, for the jobs submitted into it later too.
INSERT INTO paused_groups (group_name) VALUES ($1) ON CONFLICT (group_name) DO NOTHING
