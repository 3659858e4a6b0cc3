-- The newest recorded pass that left blobs unreferenced (0: none): a replica that has not seen it
-- sweeps its own store, where copies of those blobs may be.
SELECT coalesce(max(id), 0)::text AS id FROM retention_passes WHERE blobs > 0
