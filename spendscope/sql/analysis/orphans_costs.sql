-- Actual cost of resources in one billing period (spendscope.analysis.orphans).
-- Grain: one row per (lower(ResourceId), BillingCurrency); EffectiveCost summed, never across currencies.
-- Params: $period_start (TIMESTAMPTZ: first instant of the billing period); $resource_keys
-- (VARCHAR[]: lower-cased resource ids; ResourceId is matched ignoring case).
SELECT lower(ResourceId) AS resource_key,
       BillingCurrency AS currency,
       sum(EffectiveCost) AS EffectiveCost
FROM billing
WHERE BillingPeriodStart >= $period_start::TIMESTAMPTZ
  AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
  AND list_contains($resource_keys::VARCHAR[], lower(ResourceId))
GROUP BY ALL
