-- The anomaly findings of the latest analysis run (contract of `spendscope anomalies`): one row per
-- anomaly, overlapping [$from, $to], of the kinds in $kinds (empty: all). dimensions (the series' FOCUS
-- columns, or team) and drivers ([{dimension, value, delta}], largest first) are JSON; end is NULL while
-- the anomaly is active; expected, actual and impact are money over the anomaly so far, in currency.
-- Params: $from, $to (DATE or NULL), $kinds (VARCHAR[]).
WITH a AS (
    SELECT fingerprint AS id,
           details->>'kind' AS kind,
           CAST(details->>'start' AS DATE) AS start,
           CAST(details->>'end' AS DATE) AS "end",
           CAST(details->>'detected_on' AS DATE) AS detected_on,
           details->>'series' AS series,
           CAST(dimensions AS VARCHAR) AS dimensions,
           CAST(details->>'expected' AS DECIMAL(38, 12)) AS expected,
           CAST(details->>'actual' AS DECIMAL(38, 12)) AS actual,
           CAST(details->>'impact' AS DECIMAL(38, 12)) AS impact,
           CAST(details->>'relative_change' AS DOUBLE) AS relative_change,
           currency,
           severity,
           CAST(details->'drivers' AS VARCHAR) AS drivers,
           first_seen,
           last_seen
    FROM findings
    WHERE kind = 'anomaly'
)
SELECT *
FROM a
WHERE ($to::DATE IS NULL OR start <= $to::DATE)
  AND ($from::DATE IS NULL OR coalesce("end", DATE '9999-12-31') >= $from::DATE)
  AND (len($kinds) = 0 OR list_contains($kinds, kind))
ORDER BY start DESC, impact DESC, id
