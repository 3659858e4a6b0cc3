-- A group goes back to the farm's retention.
DELETE FROM group_settings WHERE group_name = $1
