-- The latest stored month-end forecast of the period per scope, scope value and currency (forecasts
-- of the latest made_on for that series), for the burn charts' forecast band.
-- Grain: one row per (scope, scope_value, currency). Params: $period (DATE, first day of the month).
SELECT scope, scope_value, currency, made_on, days_elapsed, days_in_period, mtd_actual,
       point, lo80, hi80, lo95, hi95
FROM forecasts
WHERE period = $period::DATE
QUALIFY row_number() OVER (PARTITION BY scope, scope_value, currency ORDER BY made_on DESC) = 1
