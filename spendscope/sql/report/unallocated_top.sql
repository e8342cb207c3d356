-- The accounts (SubAccountId, else BillingAccountId) and services with the most unallocated
-- EffectiveCost in the period (allocated_daily team 'unallocated'), the top $limit of each currency.
-- Grain: one row per (account, service, currency). Params: $period_start (TIMESTAMPTZ), $limit (INTEGER).
WITH gaps AS (
    SELECT coalesce(sub_account, account) AS account_value, service, currency, EffectiveCost
    FROM allocated_daily
    WHERE billing_period_start >= $period_start::TIMESTAMPTZ
      AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
      AND team = 'unallocated'
)
SELECT account_value AS account, service, currency, sum(EffectiveCost) AS unallocated
FROM gaps
GROUP BY account_value, service, currency
HAVING sum(EffectiveCost) <> 0
QUALIFY row_number() OVER (PARTITION BY currency ORDER BY sum(EffectiveCost) DESC, account_value, service) <= $limit
ORDER BY currency, unallocated DESC, account, service
