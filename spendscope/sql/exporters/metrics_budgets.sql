-- Budget burn for the metrics exporter: the latest stored status of each budget.
SELECT name, scope, coalesce(scope_value, '') AS scope_value, currency, amount, mtd_actual, burn_ratio, status
FROM budget_status
QUALIFY row_number() OVER (PARTITION BY name ORDER BY period DESC, made_on DESC) = 1
