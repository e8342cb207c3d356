-- Anomaly findings to alert on (spendscope.exporters.alertmanager): every active anomaly of the latest
-- anomaly run (end NULL) and those that ended on or after $ended_since (sent resolved).
-- Grain: one row per finding (fingerprint, the anomaly's stable id). Money in the series' currency.
-- service/account/region come from the series' dimensions (FOCUS columns); team is the series' own
-- team (team series), else the team with the largest allocated EffectiveCost of the same provider,
-- service, sub account, region and currency over the anomaly's days (allocated_daily; NULL before an
-- allocation ran). Params: $ended_since (DATE).
WITH f AS (
    SELECT fingerprint,
           details->>'series' AS series,
           details->>'kind' AS kind,
           coalesce(provider, dimensions->>'ProviderName') AS provider,
           dimensions->>'ServiceName' AS service,
           coalesce(dimensions->>'SubAccountId', account_id) AS account,
           coalesce(dimensions->>'RegionId', region) AS region,
           dimensions->>'team' AS series_team,
           currency,
           severity,
           CAST(details->>'start' AS DATE) AS start,
           CAST(details->>'end' AS DATE) AS "end",
           CAST(details->>'last_day' AS DATE) AS last_day,
           CAST(details->>'detected_on' AS DATE) AS detected_on,
           CAST(details->>'expected' AS DECIMAL(38, 12)) AS expected,
           CAST(details->>'actual' AS DECIMAL(38, 12)) AS actual,
           CAST(details->>'impact' AS DECIMAL(38, 12)) AS impact,
           CAST(details->>'relative_change' AS DOUBLE) AS relative_change,
           CAST(details->'drivers' AS VARCHAR) AS drivers
    FROM findings
    WHERE kind = 'anomaly'
      AND (details->>'end' IS NULL OR CAST(details->>'end' AS DATE) >= $ended_since::DATE)
),
owners AS (
    SELECT f.fingerprint, a.team, sum(a.EffectiveCost) AS cost
    FROM f
    JOIN allocated_daily AS a
      ON a.provider = f.provider
     AND a.service = f.service
     AND a.sub_account IS NOT DISTINCT FROM f.account
     AND a.region IS NOT DISTINCT FROM f.region
     AND a.currency = f.currency
     AND a.day BETWEEN f.start AND coalesce(f.last_day, f.start)
    WHERE f.series = 'service'
    GROUP BY f.fingerprint, a.team
    QUALIFY row_number() OVER (PARTITION BY f.fingerprint ORDER BY cost DESC, a.team) = 1
)
SELECT f.fingerprint, f.series, f.kind, f.provider, f.service, f.account, f.region,
       coalesce(f.series_team, o.team) AS team,
       f.currency, f.severity, f.start, f."end", f.last_day, f.detected_on,
       f.expected, f.actual, f.impact, f.relative_change, f.drivers
FROM f
LEFT JOIN owners AS o ON o.fingerprint = f.fingerprint
ORDER BY f.start, f.fingerprint
