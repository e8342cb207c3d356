-- Deviation (reported, loaded as is): a charge period starting outside its billing period, as late
-- charges billed in the following period do.
-- Grain: one row per file. Params: $ingest_id.
SELECT x_SourceFile, 'ChargePeriodStart lies outside its billing period' AS deviation, count(*) AS n
FROM billing_staging
WHERE x_IngestId = $ingest_id
  AND (ChargePeriodStart < BillingPeriodStart OR ChargePeriodStart >= BillingPeriodEnd)
GROUP BY ALL
