-- Stored commitment utilization of the latest `spendscope analyze` (contract of `spendscope commitments
-- --view utilization --format json`): flat rows, FOCUS column names for the dimensions, money in
-- BillingCurrency with *_reporting beside it in reporting_currency (NULL without one).
-- Grain: one row per (billing period, provider, commitment, currency). Params: $period_start
-- (TIMESTAMPTZ or NULL for every period).
SELECT strftime(timezone('UTC', billing_period_start), '%Y-%m') AS period,
       * EXCLUDE (billing_period_start, run_id)
FROM commitment_utilization
WHERE $period_start IS NULL OR billing_period_start = $period_start::TIMESTAMPTZ
ORDER BY period, unused_commitment_cost DESC NULLS LAST, ProviderName, CommitmentDiscountId, BillingCurrency
