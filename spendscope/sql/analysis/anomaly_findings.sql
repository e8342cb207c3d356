-- One anomaly run's findings rows, shaped from the registered frame anomaly_frame (see
-- spendscope.analysis.anomalies.find_anomalies), keeping first_seen of a fingerprint found before.
-- Grain: one row per anomaly (fingerprint). Money stays DECIMAL(38, 12) inside the details JSON.
-- Params: $now (TIMESTAMPTZ: last_seen, and first_seen of a new fingerprint).
SELECT a.fingerprint,
       'anomaly' AS kind,
       a.provider,
       a.account_id,
       a.region,
       CAST(NULL AS VARCHAR) AS resource_id,
       CAST(a.dimensions AS JSON) AS dimensions,
       coalesce(p.first_seen, $now::TIMESTAMPTZ) AS first_seen,
       $now::TIMESTAMPTZ AS last_seen,
       CAST(NULL AS DECIMAL(38, 12)) AS monthly_cost,
       a.currency,
       a.severity,
       json_object('series', a.series, 'kind', a.kind, 'start', a.start, 'end', a."end",
                   'detected_on', a.detected_on, 'last_day', a.last_day, 'expected', a.expected,
                   'actual', a.actual, 'impact', a.impact, 'relative_change', a.relative_change,
                   'flagged_days', a.flagged_days, 'recurring_days', a.recurring_days,
                   'drivers', a.drivers) AS details
FROM anomaly_frame AS a
LEFT JOIN (
    SELECT fingerprint, min(first_seen) AS first_seen
    FROM findings
    WHERE kind = 'anomaly'
    GROUP BY fingerprint
) AS p ON p.fingerprint = a.fingerprint
ORDER BY a.start, a.fingerprint
