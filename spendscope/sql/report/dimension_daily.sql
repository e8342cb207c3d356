-- Daily amortized spend (EffectiveCost) per team, service, account and environment of the period,
-- per currency (allocated_daily), for the stacked daily charts. account is SubAccountId, else
-- BillingAccountId. Grain: one row per (dimension, value, currency, day).
-- Params: $period_start (TIMESTAMPTZ, first instant of the month, UTC).
WITH month AS (
    SELECT *, coalesce(sub_account, account) AS account_value
    FROM allocated_daily
    WHERE billing_period_start >= $period_start::TIMESTAMPTZ
      AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
)
SELECT CASE WHEN GROUPING(team) = 0 THEN 'team'
            WHEN GROUPING(service) = 0 THEN 'service'
            WHEN GROUPING(account_value) = 0 THEN 'account'
            ELSE 'environment' END AS dimension,
       coalesce(team, service, account_value, environment) AS value,
       currency,
       day,
       sum(EffectiveCost) AS EffectiveCost
FROM month
GROUP BY GROUPING SETS ((team, currency, day), (service, currency, day), (account_value, currency, day),
                        (environment, currency, day))
ORDER BY dimension, currency, day, value
