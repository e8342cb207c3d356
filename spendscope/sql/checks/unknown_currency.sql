-- Check: BillingCurrency is an ISO 4217 code (FOCUS Currency Format). PricingCurrency is not
-- checked: FOCUS 1.2 allows virtual currencies there.
-- Grain: one row per file and unknown code. Params: $ingest_id. Zero rows = pass.
-- The load's currencies are counted first (a handful of rows), then looked up: no join over every row.
WITH used AS (
    SELECT x_SourceFile, BillingCurrency, count(*) AS n
    FROM billing_staging
    WHERE x_IngestId = $ingest_id
    GROUP BY ALL
)
SELECT u.x_SourceFile,
       'unknown BillingCurrency ' || coalesce('''' || u.BillingCurrency || '''', 'NULL')
         || ' (not an ISO 4217 code)' AS problem,
       u.n AS bad_rows
FROM used u
LEFT JOIN currencies c ON c.code = u.BillingCurrency
WHERE c.code IS NULL
