-- The stored cost per transaction (table unit_costs) for `spendscope unit-cost`; never recomputes.
-- Grain: one row per (service, window_start, currency) of one window kind.
-- Params: $window_kind ('hour', 'day' or 'month'); $service (VARCHAR or NULL for all); $from, $to
-- (TIMESTAMPTZ or NULL: windows starting in [$from, $to)).
SELECT service, window_start, window_end, currency, cost, transactions, cost_per_transaction, status
FROM unit_costs
WHERE window_kind = $window_kind
  AND ($service::VARCHAR IS NULL OR service = $service::VARCHAR)
  AND ($from::TIMESTAMPTZ IS NULL OR window_start >= $from::TIMESTAMPTZ)
  AND ($to::TIMESTAMPTZ IS NULL OR window_start < $to::TIMESTAMPTZ)
ORDER BY service, window_start, currency
