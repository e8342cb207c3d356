-- Migration 11: orphan cleanup (spendscope.exporters.cleanup, spendscope.remediation) and ticket
-- de-duplication (spendscope.exporters.tickets).
-- warehouse_identity: one row, written on first use by Python (secrets module): the warehouse's
-- random id, printed in every cleanup plan, and the HMAC key plans and approvals are signed with.
-- The key never leaves the warehouse; a plan from another warehouse, or edited, fails verification.
CREATE TABLE warehouse_identity (
    warehouse_id VARCHAR NOT NULL,
    plan_key VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Append-only audit log of every cleanup decision: plans made, approvals, refused plans, and one
-- row per plan item per apply (mode dry_run or execute; decision would_act, acted, skipped or
-- failed, with the reason). Nothing in spendscope updates or deletes these rows.
-- Grain: one row per event.
CREATE SEQUENCE cleanup_audit_seq START 1;
CREATE TABLE cleanup_audit (
    audit_id BIGINT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    event VARCHAR NOT NULL,
    plan_id VARCHAR,
    apply_id VARCHAR,
    mode VARCHAR,
    item_id VARCHAR,
    provider VARCHAR,
    account_id VARCHAR,
    region VARCHAR,
    resource_id VARCHAR,
    action VARCHAR,
    decision VARCHAR NOT NULL,
    reason VARCHAR,
    actor VARCHAR,
    details JSON
);

-- What a cleanup deleted and how to bring it back: the snapshot taken before a volume was deleted,
-- an Elastic IP's address, a load balancer's configuration. Grain: one row per resource acted on.
CREATE TABLE cleanup_rollback (
    apply_id VARCHAR NOT NULL,
    plan_id VARCHAR NOT NULL,
    item_id VARCHAR NOT NULL,
    provider VARCHAR NOT NULL,
    account_id VARCHAR,
    region VARCHAR,
    resource_id VARCHAR NOT NULL,
    resource_type VARCHAR,
    action VARCHAR NOT NULL,
    snapshot_id VARCHAR,
    restore JSON,
    deleted_at TIMESTAMPTZ NOT NULL
);

-- Tickets: the orphans a ticket listed last (fingerprint → resource, kind, cost, currency), so an
-- update can say what changed and a closing note can name what went away.
ALTER TABLE tickets ADD COLUMN items JSON;
