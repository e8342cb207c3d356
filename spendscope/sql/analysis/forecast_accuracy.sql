-- Stored forecasts against the actual month total (spendscope forecast --accuracy), for periods that
-- ended before $complete_before (DATE: the default as_of, the day after the latest complete day).
-- Grain: one row per stored forecast (made_on, period, scope, scope_value, currency) of a complete
-- period. actual: the period's EffectiveCost in allocated_daily for the same scope and currency
-- (0 when none); error_pct = (point - actual) / |actual| × 100, NULL when actual is 0.
-- Params: $complete_before (DATE), $scope (VARCHAR or NULL for every scope).
WITH done AS (
    SELECT *
    FROM forecasts
    WHERE period + INTERVAL 1 MONTH <= $complete_before::DATE
      AND ($scope IS NULL OR scope = $scope)
),
days AS (
    SELECT CAST(date_trunc('month', day) AS DATE) AS period, team, sub_account, service, currency, EffectiveCost
    FROM allocated_daily
    WHERE day >= (SELECT min(period) FROM done) AND day < $complete_before::DATE
),
actual AS (
    SELECT period, 'total' AS scope, CAST(NULL AS VARCHAR) AS scope_value, currency, sum(EffectiveCost) AS actual
    FROM days GROUP BY period, currency
    UNION ALL
    SELECT period, 'team', team, currency, sum(EffectiveCost) FROM days GROUP BY period, team, currency
    UNION ALL
    SELECT period, 'account', sub_account, currency, sum(EffectiveCost) FROM days GROUP BY period, sub_account, currency
    UNION ALL
    SELECT period, 'service', service, currency, sum(EffectiveCost) FROM days GROUP BY period, service, currency
)
SELECT f.made_on,
       CAST(day(f.made_on) AS INTEGER) AS made_on_day,
       f.period,
       f.scope,
       f.scope_value,
       f.currency,
       f.point,
       coalesce(a.actual, 0) AS actual,
       CASE WHEN coalesce(a.actual, 0) <> 0
            THEN CAST((f.point - a.actual) / abs(a.actual) * 100 AS DOUBLE) END AS error_pct,
       coalesce(a.actual, 0) BETWEEN f.lo80 AND f.hi80 AS within80,
       coalesce(a.actual, 0) BETWEEN f.lo95 AND f.hi95 AS within95,
       f.model
FROM done AS f
LEFT JOIN actual AS a
       ON a.period = f.period AND a.scope = f.scope AND a.currency = f.currency
      AND a.scope_value IS NOT DISTINCT FROM f.scope_value
ORDER BY made_on_day, f.period, f.scope, f.scope_value NULLS FIRST, f.currency, f.made_on
