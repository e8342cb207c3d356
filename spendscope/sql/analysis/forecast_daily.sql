-- Daily amortized cost per forecast scope and currency (spendscope.analysis.forecast.daily_series).
-- Grain: one row per (scope, scope_value, currency, day) with rows in allocated_daily, day in
-- [$start, $as_of). scope: total (scope_value NULL), team, account (sub_account = SubAccountId) or
-- service; only the scopes listed in $scopes (VARCHAR[]). EffectiveCost summed per currency, never
-- across. Days without rows are no spend (filled with 0 in code). Params: $start, $as_of (DATE).
WITH days AS (
    SELECT day, team, sub_account, service, currency, EffectiveCost
    FROM allocated_daily
    WHERE day >= $start::DATE AND day < $as_of::DATE AND currency IS NOT NULL
)
SELECT 'total' AS scope, CAST(NULL AS VARCHAR) AS scope_value, currency, day, sum(EffectiveCost) AS EffectiveCost
FROM days WHERE list_contains($scopes::VARCHAR[], 'total') GROUP BY currency, day
UNION ALL
SELECT 'team', team, currency, day, sum(EffectiveCost)
FROM days WHERE list_contains($scopes::VARCHAR[], 'team') GROUP BY team, currency, day
UNION ALL
SELECT 'account', sub_account, currency, day, sum(EffectiveCost)
FROM days WHERE list_contains($scopes::VARCHAR[], 'account') GROUP BY sub_account, currency, day
UNION ALL
SELECT 'service', service, currency, day, sum(EffectiveCost)
FROM days WHERE list_contains($scopes::VARCHAR[], 'service') GROUP BY service, currency, day
