-- The warehouse's identity for signing cleanup plans (one row once written). Params: none.
SELECT warehouse_id, plan_key FROM warehouse_identity ORDER BY created_at LIMIT 1
