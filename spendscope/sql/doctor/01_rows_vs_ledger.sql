-- Doctor: every loaded unit's row count in the ledger equals its rows in billing.
-- Grain: one row per inconsistent unit. Zero rows = pass.
SELECT 'error' AS level,
       'unit ' || i.source || ' ' || strftime(i.billing_period_start, '%Y-%m') || ' (ingest '
         || i.ingest_id::VARCHAR || '): ledger says ' || i.row_count::VARCHAR || ' rows, billing holds '
         || coalesce(b.n, 0)::VARCHAR AS problem
FROM ingests i
LEFT JOIN (
    SELECT x_IngestId, BillingPeriodStart, count(*) AS n FROM billing GROUP BY ALL
) b ON b.x_IngestId = i.ingest_id AND b.BillingPeriodStart = i.billing_period_start
WHERE i.status = 'loaded' AND i.billing_period_start IS NOT NULL AND coalesce(b.n, 0) <> i.row_count
