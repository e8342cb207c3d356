-- Record the warehouse's identity on first use. Params: $warehouse_id, $plan_key (hex), $now.
INSERT INTO warehouse_identity
SELECT $warehouse_id, $plan_key, $now::TIMESTAMPTZ
WHERE NOT EXISTS (SELECT 1 FROM warehouse_identity)
