-- How far each provider's cost has arrived, for cost per transaction (spendscope.analysis.unit_cost).
-- Grain: one row per ProviderName. cost_complete_until: the latest ChargePeriodEnd billed by that
-- provider (over every source and period); a window ending later has cost still to come.
SELECT ProviderName AS provider, max(ChargePeriodEnd) AS cost_complete_until
FROM billing
GROUP BY ALL
