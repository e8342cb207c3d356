-- Daily cost per transaction per service of the period (unit_costs, window_kind 'day', status ok),
-- for the trend chart. Grain: one row per (service, currency, day).
-- Params: $period_start (TIMESTAMPTZ, first instant of the month, UTC).
SELECT service,
       currency,
       CAST(timezone('UTC', window_start) AS DATE) AS day,
       cost_per_transaction
FROM unit_costs
WHERE window_kind = 'day'
  AND status = 'ok'
  AND window_start >= $period_start::TIMESTAMPTZ
  AND window_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
ORDER BY currency, service, day
