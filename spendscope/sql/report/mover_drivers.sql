-- Month-over-month change of amortized spend (EffectiveCost, allocated_daily) per service and
-- currency, and the same change broken down by team, account (SubAccountId, else BillingAccountId)
-- and region: the movers of the executive summary and their drivers.
-- Grain: one row per (service, currency, driver, value); driver NULL is the service's own total.
-- Params: $period_start, $previous_start (TIMESTAMPTZ, first instants of the months, UTC).
WITH months AS (
    SELECT service, currency, team, region, EffectiveCost,
           coalesce(sub_account, account) AS account_value,
           billing_period_start >= $period_start::TIMESTAMPTZ AS current
    FROM allocated_daily
    WHERE billing_period_start >= $previous_start::TIMESTAMPTZ
      AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
)
SELECT service,
       currency,
       CASE WHEN GROUPING(team) = 0 THEN 'team'
            WHEN GROUPING(account_value) = 0 THEN 'account'
            WHEN GROUPING(region) = 0 THEN 'region' END AS driver,
       coalesce(team, account_value, region) AS value,
       coalesce(sum(EffectiveCost) FILTER (WHERE current), 0) AS EffectiveCost,
       coalesce(sum(EffectiveCost) FILTER (WHERE NOT current), 0) AS previous_EffectiveCost
FROM months
GROUP BY GROUPING SETS ((service, currency), (service, currency, team), (service, currency, account_value),
                        (service, currency, region))
ORDER BY service, currency, driver NULLS FIRST, value
