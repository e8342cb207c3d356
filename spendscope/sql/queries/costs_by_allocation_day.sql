-- Cost by allocation dimensions (team, environment) and FOCUS columns per day, from allocated_daily,
-- for conversion to the reporting currency at each day's rate (spendscope costs --reporting-currency).
-- Grain: ({dimensions}, BillingCurrency, day). Params: $period_start (TIMESTAMPTZ or NULL for all).
-- {dimensions} is built in code from a fixed map of allocated_daily columns.
SELECT {dimensions},
       currency AS BillingCurrency,
       day,
       sum(BilledCost) AS BilledCost,
       sum(EffectiveCost) AS EffectiveCost
FROM allocated_daily
WHERE $period_start IS NULL OR billing_period_start = $period_start::TIMESTAMPTZ
GROUP BY ALL
