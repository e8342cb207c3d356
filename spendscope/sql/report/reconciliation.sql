-- The reconciliation box: what each billing account's invoice should say. Sum of BilledCost (and
-- EffectiveCost, rows, invoice ids) per provider, billing account and BillingCurrency of the period.
-- Grain: one row per (ProviderName, BillingAccountId, BillingCurrency).
-- Params: $period_start (TIMESTAMPTZ, first instant of the month, UTC).
SELECT ProviderName,
       BillingAccountId,
       any_value(BillingAccountName) AS BillingAccountName,
       BillingCurrency AS currency,
       sum(BilledCost) AS BilledCost,
       sum(EffectiveCost) AS EffectiveCost,
       count(*) AS rows,
       string_agg(DISTINCT InvoiceId, ', ' ORDER BY InvoiceId) AS invoice_ids
FROM billing
WHERE BillingPeriodStart >= $period_start::TIMESTAMPTZ
  AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
GROUP BY ProviderName, BillingAccountId, BillingCurrency
ORDER BY ProviderName, BillingAccountId, BillingCurrency
