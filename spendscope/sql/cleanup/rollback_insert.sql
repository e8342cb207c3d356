-- Record how to restore one deleted resource. Params: $apply_id, $plan_id, $item_id, $provider,
-- $account_id, $region, $resource_id, $resource_type, $action, $snapshot_id, $restore (JSON text), $at.
INSERT INTO cleanup_rollback
VALUES ($apply_id, $plan_id, $item_id, $provider, $account_id, $region, $resource_id, $resource_type, $action,
        $snapshot_id, CAST($restore AS JSON), $at::TIMESTAMPTZ)
