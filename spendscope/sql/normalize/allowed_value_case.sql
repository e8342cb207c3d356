-- Normalize: a value of an allowed-values column that differs from a FOCUS value only in case
-- (e.g. 'Usage-based') becomes the FOCUS spelling ('Usage-Based').
-- Grain: rows of one load. Params: $ingest_id, $column. {column} is a FOCUS column name taken
-- from spendscope.focus.ALLOWED_VALUES (a fixed set in code), never from input.
UPDATE billing_staging
SET {column} = a.value
FROM focus_allowed_values a
WHERE billing_staging.x_IngestId = $ingest_id
  AND a.column_name = $column
  AND lower(billing_staging.{column}) = lower(a.value)
  AND billing_staging.{column} <> a.value
