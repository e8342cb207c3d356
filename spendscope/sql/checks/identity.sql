-- Check: the columns that identify who is billed for what are present (FOCUS: MUST NOT be null).
-- Grain: one row per file and problem. Params: $ingest_id. Zero rows = pass.
SELECT x_SourceFile, problem, count(*) AS bad_rows
FROM (
    SELECT x_SourceFile,
           CASE
             WHEN BillingAccountId IS NULL THEN 'BillingAccountId is empty'
             WHEN ChargeCategory IS NULL THEN 'ChargeCategory is empty'
             WHEN ProviderName IS NULL THEN 'ProviderName is empty'
             WHEN ServiceName IS NULL THEN 'ServiceName is empty'
           END AS problem
    FROM billing_staging
    WHERE x_IngestId = $ingest_id
)
WHERE problem IS NOT NULL
GROUP BY x_SourceFile, problem
