-- Insert one allocation run's rows from the registered frame allocated_frame.
-- Grain: one row per (billing_period_start, day, provider, account, sub_account, service,
-- service_category, region, team, environment, currency, shared). Params: $run_id.
INSERT INTO allocated_daily
SELECT billing_period_start, day, provider, account, sub_account, service, service_category, region,
       team, environment, currency, BilledCost, EffectiveCost, shared, $run_id
FROM allocated_frame
