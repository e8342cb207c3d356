-- Insert one allocation run's rows from the registered frame allocated_frame.
-- Grain: one row per (billing_period_start, day, provider, account, sub_account, service,
-- service_category, region, team, environment, currency, shared). Params: $run_id.
-- The reporting columns are NULL when no reporting currency is configured.
INSERT INTO allocated_daily (billing_period_start, day, provider, account, sub_account, service, service_category,
                             region, team, environment, currency, BilledCost, EffectiveCost, shared, run_id,
                             reporting_currency, BilledCost_reporting, EffectiveCost_reporting)
SELECT billing_period_start, day, provider, account, sub_account, service, service_category, region,
       team, environment, currency, BilledCost, EffectiveCost, shared, $run_id,
       reporting_currency, BilledCost_reporting, EffectiveCost_reporting
FROM allocated_frame
