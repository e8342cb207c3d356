-- Append one event to the cleanup audit log (never updated or deleted).
-- Params: $at, $event, $plan_id, $apply_id, $mode, $item_id, $provider, $account_id, $region,
-- $resource_id, $action, $decision, $reason, $actor, $details (JSON text or NULL).
INSERT INTO cleanup_audit
VALUES (nextval('cleanup_audit_seq'), $at::TIMESTAMPTZ, $event, $plan_id, $apply_id, $mode, $item_id, $provider,
        $account_id, $region, $resource_id, $action, $decision, $reason, $actor, CAST($details AS JSON))
