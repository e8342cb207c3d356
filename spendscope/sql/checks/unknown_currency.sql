-- Check: BillingCurrency is an ISO 4217 code (FOCUS Currency Format). PricingCurrency is not
-- checked: FOCUS 1.2 allows virtual currencies there.
-- Grain: one row per file and unknown code. Params: $ingest_id. Zero rows = pass.
SELECT b.x_SourceFile,
       'unknown BillingCurrency ' || coalesce('''' || b.BillingCurrency || '''', 'NULL')
         || ' (not an ISO 4217 code)' AS problem,
       count(*) AS bad_rows
FROM billing_staging b
LEFT JOIN currencies c ON c.code = b.BillingCurrency
WHERE b.x_IngestId = $ingest_id AND c.code IS NULL
GROUP BY b.x_SourceFile, b.BillingCurrency
