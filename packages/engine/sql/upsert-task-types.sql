-- The params schemas a worker brought in its hello ($1: {"<task type>": <JSON Schema>}).
INSERT INTO task_types (name, params_schema)
SELECT key, value FROM jsonb_each($1::jsonb)
ON CONFLICT (name) DO UPDATE SET params_schema = excluded.params_schema, updated_at = now()
WHERE task_types.params_schema IS DISTINCT FROM excluded.params_schema
