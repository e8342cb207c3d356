-- Stored budget status of the period (budget_status of the latest forecast run, if it forecast this
-- period): the status, burn ratio and exhaustion date shown beside each budget.
-- Grain: one row per budget name. Params: $period (DATE, first day of the month).
SELECT name, scope, scope_value, currency, amount, made_on, status, burn_ratio, exhaustion_date
FROM budget_status
WHERE period = $period::DATE
ORDER BY name
