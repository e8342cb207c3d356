-- Month totals from billing (the executive summary): BilledCost and EffectiveCost of the period and
-- of the previous one, per BillingCurrency; never summed across currencies.
-- Grain: one row per currency billed in either month. Params: $period_start, $previous_start
-- (TIMESTAMPTZ, first instants of the months, UTC); a month is every BillingPeriodStart inside it.
SELECT BillingCurrency AS currency,
       coalesce(sum(BilledCost) FILTER (WHERE BillingPeriodStart >= $period_start::TIMESTAMPTZ), 0) AS BilledCost,
       coalesce(sum(EffectiveCost) FILTER (WHERE BillingPeriodStart >= $period_start::TIMESTAMPTZ), 0)
           AS EffectiveCost,
       coalesce(sum(BilledCost) FILTER (WHERE BillingPeriodStart < $period_start::TIMESTAMPTZ), 0)
           AS previous_BilledCost,
       coalesce(sum(EffectiveCost) FILTER (WHERE BillingPeriodStart < $period_start::TIMESTAMPTZ), 0)
           AS previous_EffectiveCost
FROM billing
WHERE BillingPeriodStart >= $previous_start::TIMESTAMPTZ
  AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
GROUP BY BillingCurrency
ORDER BY BillingCurrency
