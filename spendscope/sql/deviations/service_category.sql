-- Deviation (reported, loaded as is): a ServiceName with more than one ServiceCategory in a load
-- (FOCUS expects one category per service).
-- Grain: one row per file and service. Params: $ingest_id.
SELECT any_value(x_SourceFile) AS x_SourceFile,
       'ServiceName ''' || ServiceName || ''' has ' || count(DISTINCT ServiceCategory)::VARCHAR
         || ' ServiceCategory values' AS deviation,
       count(*) AS n
FROM billing_staging
WHERE x_IngestId = $ingest_id
GROUP BY ServiceName
HAVING count(DISTINCT ServiceCategory) > 1
