-- groups.resume: jobs submitted into the group from now on start at once.
DELETE FROM paused_groups WHERE group_name = $1
