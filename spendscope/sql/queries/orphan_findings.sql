-- The orphan findings of the latest analysis run, as flat rows with FOCUS column names for the
-- dimensions (contract of `spendscope orphans --format json`). Grain: one row per orphan and currency.
-- EffectiveCost is the monthly cost (billed in the last full period, or a list-price estimate where
-- cost_source says so); BilledCost is the billed part (NULL for an estimate).
SELECT fingerprint AS id,
       json_extract_string(dimensions, '$.orphan_kind') AS kind,
       provider AS ProviderName,
       account_id AS SubAccountId,
       region AS RegionId,
       resource_id AS ResourceId,
       json_extract_string(dimensions, '$.resource_type') AS ResourceType,
       json_extract_string(dimensions, '$.team') AS team,
       json_extract_string(dimensions, '$.owner') AS owner,
       CAST(json_extract_string(details, '$.age_days') AS DOUBLE) AS age_days,
       json_extract_string(details, '$.cost_source') AS cost_source,
       severity,
       currency AS BillingCurrency,
       CASE WHEN json_extract_string(details, '$.cost_source') = 'bill' THEN monthly_cost END AS BilledCost,
       monthly_cost AS EffectiveCost,
       first_seen,
       last_seen
FROM findings
WHERE kind = 'orphan'
ORDER BY EffectiveCost DESC NULLS LAST, ResourceId
