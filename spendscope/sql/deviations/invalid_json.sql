-- Deviation (reported, loaded with the raw text kept): Tags or SkuPriceDetails that were not a
-- JSON object. The collector stores NULL in the column and the raw text in x_Extensions.
-- Grain: one row per file and column. Params: $ingest_id.
SELECT x_SourceFile, 'Tags is not a JSON object (raw text kept in x_Extensions.Tags_unparsed)' AS deviation,
       count(*) AS n
FROM billing_staging WHERE x_IngestId = $ingest_id AND json_extract_string(x_Extensions, '$.Tags_unparsed') IS NOT NULL GROUP BY ALL
UNION ALL
SELECT x_SourceFile,
       'SkuPriceDetails is not a JSON object (raw text kept in x_Extensions.SkuPriceDetails_unparsed)',
       count(*)
FROM billing_staging WHERE x_IngestId = $ingest_id AND json_extract_string(x_Extensions, '$.SkuPriceDetails_unparsed') IS NOT NULL GROUP BY ALL
