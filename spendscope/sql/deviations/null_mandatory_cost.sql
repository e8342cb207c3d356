-- Deviation (reported, loaded as is): ListCost or ContractedCost empty although FOCUS requires them.
-- Grain: one row per file and column. Params: $ingest_id.
SELECT x_SourceFile, 'ListCost is empty' AS deviation, count(*) AS n
FROM billing_staging WHERE x_IngestId = $ingest_id AND ListCost IS NULL GROUP BY ALL
UNION ALL
SELECT x_SourceFile, 'ContractedCost is empty' AS deviation, count(*) AS n
FROM billing_staging WHERE x_IngestId = $ingest_id AND ContractedCost IS NULL GROUP BY ALL
