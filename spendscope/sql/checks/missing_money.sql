-- Check: every row of a load carries BilledCost and EffectiveCost, the two costs spendscope sums
-- (FOCUS: MUST NOT be null). An empty ListCost/ContractedCost is reported, not refused
-- (deviations/null_mandatory_cost.sql): no total is built from them.
-- Grain: one row per file. Params: $ingest_id. Zero rows = pass.
SELECT x_SourceFile,
       'BilledCost or EffectiveCost is empty' AS problem,
       count(*) AS bad_rows
FROM billing_staging
WHERE x_IngestId = $ingest_id
  AND (BilledCost IS NULL OR EffectiveCost IS NULL)
GROUP BY x_SourceFile
