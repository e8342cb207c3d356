-- Cost by dimensions: one row per group and BillingCurrency; money is never summed across currencies.
-- Grain: ({dimensions}, BillingCurrency). Params: $period_start (TIMESTAMPTZ or NULL for all periods),
-- and $tag0.. (JSON pointers of tag keys, bound as values). {dimensions} is built in code from FOCUS
-- column names (a fixed set) and json_extract_string(Tags, $tagN) expressions.
SELECT {dimensions},
       BillingCurrency,
       sum(BilledCost) AS BilledCost,
       sum(EffectiveCost) AS EffectiveCost
FROM billing
WHERE $period_start IS NULL
   OR (BillingPeriodStart >= $period_start::TIMESTAMPTZ
       AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH)
GROUP BY ALL
ORDER BY BillingCurrency, EffectiveCost DESC
