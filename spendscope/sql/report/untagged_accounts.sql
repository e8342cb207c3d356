-- The accounts and services with the most untagged + mistagged EffectiveCost in the period
-- (untagged_daily), per currency, largest first; the top $limit of each currency.
-- Grain: one row per (SubAccountId, ServiceName, currency) with noncompliant cost.
-- Params: $period_start (TIMESTAMPTZ, first instant of the month, UTC), $limit (INTEGER).
SELECT SubAccountId,
       ServiceName,
       currency,
       sum(EffectiveCost) FILTER (WHERE status IN ('untagged', 'mistagged')) AS noncompliant,
       sum(EffectiveCost) FILTER (WHERE status <> 'untaggable') AS taggable
FROM untagged_daily
WHERE billing_period_start >= $period_start::TIMESTAMPTZ
  AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
GROUP BY SubAccountId, ServiceName, currency
HAVING sum(EffectiveCost) FILTER (WHERE status IN ('untagged', 'mistagged')) <> 0
QUALIFY row_number() OVER (PARTITION BY currency ORDER BY noncompliant DESC, SubAccountId, ServiceName) <= $limit
ORDER BY currency, noncompliant DESC, SubAccountId, ServiceName
