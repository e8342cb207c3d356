-- Ledger: which files contributed rows to each billing period of one load.
-- Grain: (BillingPeriodStart, x_SourceFile). Params: $ingest_id.
SELECT DISTINCT BillingPeriodStart, x_SourceFile
FROM billing_staging
WHERE x_IngestId = $ingest_id
ORDER BY ALL
