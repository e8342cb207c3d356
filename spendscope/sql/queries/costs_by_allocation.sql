-- Cost by allocation dimensions (team, environment) and FOCUS columns, from the materialized
-- allocation (allocated_daily): one row per group and currency; money never summed across currencies.
-- Grain: ({dimensions}, BillingCurrency). Params: $period_start (TIMESTAMPTZ or NULL for all).
-- {dimensions} is built in code from a fixed map of allocated_daily columns.
SELECT {dimensions},
       currency AS BillingCurrency,
       sum(BilledCost) AS BilledCost,
       sum(EffectiveCost) AS EffectiveCost
FROM allocated_daily
WHERE $period_start IS NULL OR billing_period_start = $period_start::TIMESTAMPTZ
GROUP BY ALL
ORDER BY BillingCurrency, EffectiveCost DESC
