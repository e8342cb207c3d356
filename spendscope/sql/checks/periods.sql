-- Check: charge and billing periods are present and ordered (end not before start). A missing or
-- inverted period would misplace money in time. (A charge period outside its billing period is
-- normal for late charges: deviations/charge_outside_billing_period.sql reports it.)
-- Grain: one row per file and problem. Params: $ingest_id. Zero rows = pass.
SELECT x_SourceFile, problem, count(*) AS bad_rows
FROM (
    SELECT x_SourceFile,
           CASE
             WHEN ChargePeriodStart IS NULL OR ChargePeriodEnd IS NULL THEN 'ChargePeriodStart/End is empty'
             WHEN BillingPeriodStart IS NULL OR BillingPeriodEnd IS NULL THEN 'BillingPeriodStart/End is empty'
             WHEN ChargePeriodEnd < ChargePeriodStart THEN 'ChargePeriodEnd is before ChargePeriodStart'
             WHEN BillingPeriodEnd <= BillingPeriodStart THEN 'BillingPeriodEnd is not after BillingPeriodStart'
           END AS problem
    FROM billing_staging
    WHERE x_IngestId = $ingest_id
)
WHERE problem IS NOT NULL
GROUP BY x_SourceFile, problem
