-- Cost by dimensions and day, for conversion to the reporting currency at each day's rate
-- (spendscope costs --reporting-currency): one row per group, BillingCurrency and day.
-- Grain: ({dimensions}, BillingCurrency, day); day is the UTC date of ChargePeriodStart.
-- Params: $period_start (TIMESTAMPTZ or NULL for all periods), and $tag0.. (JSON pointers of tag keys,
-- bound as values). {dimensions} is built in code as for costs_by.sql.
SELECT {dimensions},
       BillingCurrency,
       utc_day(ChargePeriodStart) AS day,
       sum(BilledCost) AS BilledCost,
       sum(EffectiveCost) AS EffectiveCost
FROM billing
WHERE $period_start IS NULL
   OR (BillingPeriodStart >= $period_start::TIMESTAMPTZ
       AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH)
GROUP BY ALL
