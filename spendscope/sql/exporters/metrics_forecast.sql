-- Month-end forecasts for the metrics exporter: per scope, scope value and currency, the latest
-- forecast (latest made_on) of the latest period forecast.
WITH latest AS (
    SELECT max(period) AS period FROM forecasts
)
SELECT scope, coalesce(scope_value, '') AS name, currency, point, lo80, hi80, lo95, hi95, made_on
FROM forecasts
WHERE period = (SELECT period FROM latest)
QUALIFY row_number() OVER (PARTITION BY scope, scope_value, currency ORDER BY made_on DESC) = 1
