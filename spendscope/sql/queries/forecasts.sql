-- Stored month-end forecasts (spendscope forecast): those made on $made_on (DATE, or NULL for the
-- latest made_on stored), of scope $scope (VARCHAR, or NULL for every scope).
-- Grain: one row per (made_on, period, scope, scope_value, currency); money per currency.
SELECT made_on, period, scope, scope_value, currency, days_elapsed, days_in_period, mtd_actual,
       point, lo80, hi80, lo95, hi95, month_level_expected, month_level_booked, seasonal_share, model,
       history_days
FROM forecasts
WHERE made_on = coalesce($made_on::DATE, (SELECT max(made_on) FROM forecasts))
  AND ($scope IS NULL OR scope = $scope)
ORDER BY period, scope, currency, point DESC, scope_value
