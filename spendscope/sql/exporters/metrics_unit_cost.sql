-- Cost per transaction for the metrics exporter: per service, window kind and currency, the most
-- recent window whose cost has arrived and whose transactions are non-zero (status ok).
SELECT service, window_kind, currency, cost_per_transaction, window_end
FROM unit_costs
WHERE status = 'ok' AND cost_per_transaction IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY service, window_kind, currency ORDER BY window_start DESC) = 1
