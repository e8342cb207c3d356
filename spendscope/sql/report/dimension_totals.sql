-- Spend per team, service, account and environment (allocated_daily), this month and the previous
-- one, per currency. account is SubAccountId, else BillingAccountId. Money is never converted.
-- Grain: one row per (dimension, value, currency) with cost in either month.
-- Params: $period_start, $previous_start (TIMESTAMPTZ, first instants of the months, UTC).
WITH months AS (
    SELECT *,
           billing_period_start >= $period_start::TIMESTAMPTZ AS current,
           coalesce(sub_account, account) AS account_value
    FROM allocated_daily
    WHERE billing_period_start >= $previous_start::TIMESTAMPTZ
      AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
),
grouped AS (
    SELECT CASE WHEN GROUPING(team) = 0 THEN 'team'
                WHEN GROUPING(service) = 0 THEN 'service'
                WHEN GROUPING(account_value) = 0 THEN 'account'
                ELSE 'environment' END AS dimension,
           coalesce(team, service, account_value, environment) AS value,
           currency,
           coalesce(sum(BilledCost) FILTER (WHERE current), 0) AS BilledCost,
           coalesce(sum(EffectiveCost) FILTER (WHERE current), 0) AS EffectiveCost,
           coalesce(sum(BilledCost) FILTER (WHERE NOT current), 0) AS previous_BilledCost,
           coalesce(sum(EffectiveCost) FILTER (WHERE NOT current), 0) AS previous_EffectiveCost
    FROM months
    GROUP BY GROUPING SETS ((team, currency), (service, currency), (account_value, currency),
                            (environment, currency))
)
SELECT *
FROM grouped
ORDER BY dimension, currency, EffectiveCost DESC, value
