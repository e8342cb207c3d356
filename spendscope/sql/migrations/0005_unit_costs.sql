-- Migration 5: cost per transaction (spendscope.analysis.unit_cost.run_unit_costs).
-- Grain: one row per (window_kind, service, window_start, currency) of the latest run covering that
-- window; a run replaces the rows of the windows it computed (a calendar month, or all) in one
-- transaction. window_kind: hour, day or month; windows are [window_start, window_end), UTC.
-- cost: the service's cost (EffectiveCost by default) in BillingCurrency, never converted; NULL when
-- no cost has arrived (status cost_pending or no_cost). transactions: the sum of the stored counts
-- whose bucket lies inside the window, NULL when none does. cost_per_transaction = cost /
-- transactions, NULL when either is NULL, transactions are 0 or the status is not ok.
-- status: ok, no_traffic_metric (cost but no transactions), cost_pending (window_end after the
-- latest billed ChargePeriodEnd of the service's providers), no_cost (transactions, never billed),
-- partial_traffic (the transactions buckets cover only part of the window).
CREATE TABLE unit_costs (
    window_kind VARCHAR NOT NULL,
    service VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    window_end TIMESTAMPTZ NOT NULL,
    currency VARCHAR,
    cost DECIMAL(38, 12),
    transactions DECIMAL(38, 6),
    cost_per_transaction DECIMAL(38, 18),
    status VARCHAR NOT NULL,
    cost_complete_until TIMESTAMPTZ,
    run_id BIGINT NOT NULL
);
