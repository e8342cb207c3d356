-- Ledger: totals of one load per billing period and currency, from the rows just inserted.
-- Grain: (BillingPeriodStart, BillingCurrency). Params: $ingest_id.
SELECT BillingPeriodStart, BillingCurrency, count(*) AS row_count,
       sum(BilledCost) AS BilledCost, sum(EffectiveCost) AS EffectiveCost
FROM billing_staging
WHERE x_IngestId = $ingest_id
GROUP BY ALL
ORDER BY ALL
