-- Ledger summary: one load's rows and totals per billing period, provider and currency (for the
-- CLI's end-of-ingest table). Grain: (period, ProviderName, BillingCurrency). Params: $ingest_id.
SELECT strftime(BillingPeriodStart, '%Y-%m') AS period, ProviderName, BillingCurrency,
       count(*) AS row_count, sum(BilledCost) AS BilledCost, sum(EffectiveCost) AS EffectiveCost
FROM billing
WHERE x_IngestId = $ingest_id
GROUP BY ALL
ORDER BY ALL
