-- Daily amortized spend (EffectiveCost, allocated_daily) of the period per budget scope: total,
-- team, account (SubAccountId) and service (ServiceName), per currency, for the burn charts.
-- Grain: one row per (scope, scope_value, currency, day). Params: $period_start (TIMESTAMPTZ).
SELECT CASE WHEN GROUPING(team) = 0 THEN 'team'
            WHEN GROUPING(sub_account) = 0 THEN 'account'
            WHEN GROUPING(service) = 0 THEN 'service'
            ELSE 'total' END AS scope,
       coalesce(team, sub_account, service) AS scope_value,
       currency,
       day,
       sum(EffectiveCost) AS EffectiveCost
FROM allocated_daily
WHERE billing_period_start >= $period_start::TIMESTAMPTZ
  AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
GROUP BY GROUPING SETS ((currency, day), (team, currency, day), (sub_account, currency, day),
                        (service, currency, day))
ORDER BY scope, scope_value, currency, day
