-- A server stops in order: its row goes (its workers' connections were closed before).
DELETE FROM servers WHERE id = $1
