-- Report: values of an allowed-values column that are not FOCUS values (kept, reported).
-- Grain: one row per value. Params: $ingest_id, $column. {column} comes from a fixed set in code.
SELECT billing_staging.{column} AS value, count(*) AS n
FROM billing_staging
WHERE billing_staging.x_IngestId = $ingest_id
  AND billing_staging.{column} IS NOT NULL
  AND billing_staging.{column} NOT IN (SELECT value FROM focus_allowed_values WHERE column_name = $column)
GROUP BY 1
ORDER BY 2 DESC
LIMIT 10
