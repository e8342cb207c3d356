-- Budgets to alert on (spendscope.exporters.alertmanager): the latest stored status of each budget
-- (latest period, then latest made_on) when it is over (month-to-date actual above the amount) or
-- at_risk (forecast month-end above the amount). A budget whose latest status is ok is not returned
-- even if an older row was over. Grain: one row per budget name. Money in the budget's currency.
WITH latest AS (
    SELECT name, period, made_on, scope, scope_value, currency, amount, mtd_actual, linear_pace,
           burn_ratio, forecast_point, exhaustion_date, status
    FROM budget_status
    QUALIFY row_number() OVER (PARTITION BY name ORDER BY period DESC, made_on DESC) = 1
)
SELECT *
FROM latest
WHERE status IN ('over', 'at_risk')
ORDER BY name
