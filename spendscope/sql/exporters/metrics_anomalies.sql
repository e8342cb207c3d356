-- Active anomalies (end not set) for the metrics exporter, from findings of the latest anomalies
-- run. Series dimensions come from the finding's dimensions object (FOCUS column names, or team).
SELECT coalesce(dimensions ->> 'ServiceName', '') AS service,
       coalesce(dimensions ->> 'SubAccountId', account_id, '') AS account,
       coalesce(dimensions ->> 'RegionId', region, '') AS region,
       coalesce(dimensions ->> 'team', '') AS team,
       coalesce(details ->> 'kind', '') AS kind,
       coalesce(severity, '') AS severity,
       currency,
       CAST(details ->> 'impact' AS DOUBLE) AS impact
FROM findings
WHERE kind = 'anomaly' AND (details ->> 'end') IS NULL
