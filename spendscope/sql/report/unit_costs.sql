-- Cost per transaction per service (unit_costs of the latest runs): the month window of the period
-- and of the previous month, side by side. cost and cost_per_transaction are in currency.
-- Grain: one row per (service, currency) with a month window in either month.
-- Params: $period_start, $previous_start (TIMESTAMPTZ, first instants of the months, UTC).
WITH m AS (
    SELECT *
    FROM unit_costs
    WHERE window_kind = 'month'
      AND window_start IN ($period_start::TIMESTAMPTZ, $previous_start::TIMESTAMPTZ)
)
SELECT service,
       currency,
       any_value(cost) FILTER (WHERE window_start = $period_start::TIMESTAMPTZ) AS cost,
       any_value(transactions) FILTER (WHERE window_start = $period_start::TIMESTAMPTZ) AS transactions,
       any_value(cost_per_transaction) FILTER (WHERE window_start = $period_start::TIMESTAMPTZ)
           AS cost_per_transaction,
       any_value(status) FILTER (WHERE window_start = $period_start::TIMESTAMPTZ) AS status,
       any_value(cost_per_transaction) FILTER (WHERE window_start = $previous_start::TIMESTAMPTZ)
           AS previous_cost_per_transaction
FROM m
GROUP BY service, currency
ORDER BY currency NULLS LAST, cost DESC NULLS LAST, service
