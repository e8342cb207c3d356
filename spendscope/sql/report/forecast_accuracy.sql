-- The stored month-end forecasts of the period's total (forecasts, scope 'total', every made_on),
-- against the period's actual EffectiveCost in allocated_daily (NULL when none), per currency.
-- error_pct = (point - actual) / |actual| × 100, NULL when actual is 0 or NULL; meaningful only once
-- the month is complete (the report says so when it is not).
-- Grain: one row per (made_on, currency). Params: $period (DATE, first day of the month).
WITH actual AS (
    SELECT currency, sum(EffectiveCost) AS actual
    FROM allocated_daily
    WHERE billing_period_start >= $period::DATE::TIMESTAMPTZ
      AND billing_period_start < $period::DATE::TIMESTAMPTZ + INTERVAL 1 MONTH
    GROUP BY currency
)
SELECT f.made_on, f.currency, f.days_elapsed, f.mtd_actual, f.point, f.lo80, f.hi80, a.actual,
       CASE WHEN coalesce(a.actual, 0) <> 0 THEN CAST((f.point - a.actual) / abs(a.actual) * 100 AS DOUBLE) END
           AS error_pct,
       f.model
FROM forecasts AS f
LEFT JOIN actual AS a USING (currency)
WHERE f.period = $period::DATE AND f.scope = 'total'
ORDER BY f.currency, f.made_on
