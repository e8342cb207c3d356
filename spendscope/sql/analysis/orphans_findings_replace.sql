-- Insert one orphan run's findings from the registered frame orphan_frame, keeping first_seen of a
-- fingerprint already found by an earlier run. Run before orphans_findings_delete, in one transaction.
-- Grain: one row per (fingerprint, currency). Params: $run_id, $now (TIMESTAMPTZ: last_seen).
INSERT INTO findings
SELECT o.fingerprint,
       'orphan' AS kind,
       $run_id AS run_id,
       o.provider,
       o.account_id,
       o.region,
       o.resource_id,
       json_object('orphan_kind', o.orphan_kind, 'resource_type', o.resource_type,
                   'team', o.team, 'owner', o.owner) AS dimensions,
       coalesce(p.first_seen, $now::TIMESTAMPTZ) AS first_seen,
       $now::TIMESTAMPTZ AS last_seen,
       o.monthly_cost,
       o.currency,
       o.severity,
       json_object('cost_source', o.cost_source, 'age_days', o.age_days, 'idle_days', o.idle_days,
                   'state', o.state, 'size', o.size, 'size_unit', o.size_unit, 'source', o.source,
                   'observed_at', o.observed_at) AS details
FROM orphan_frame AS o
LEFT JOIN (
    SELECT fingerprint, min(first_seen) AS first_seen
    FROM findings
    WHERE kind = 'orphan'
    GROUP BY fingerprint
) AS p ON p.fingerprint = o.fingerprint
