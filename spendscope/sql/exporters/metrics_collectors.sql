-- Collector self-telemetry for the metrics exporter, per source: the last successful run (loaded or
-- unchanged), rows loaded and failed runs over collector_runs, and the newest ChargePeriodEnd of
-- the source's current billing rows (data freshness).
WITH runs AS (
    SELECT source,
           max(finished_at) FILTER (WHERE status IN ('loaded', 'unchanged')) AS last_success,
           sum(rows) AS rows_total,
           count(*) FILTER (WHERE status = 'failed') AS errors_total
    FROM collector_runs
    GROUP BY source
),
data_end AS (
    SELECT i.source, max(b.max_end) AS latest_data
    FROM (SELECT x_IngestId, max(ChargePeriodEnd) AS max_end FROM billing GROUP BY x_IngestId) AS b
    JOIN ingests AS i ON i.ingest_id = b.x_IngestId
    GROUP BY i.source
)
SELECT coalesce(r.source, d.source) AS source,
       epoch(r.last_success) AS last_success,
       coalesce(r.rows_total, 0) AS rows_total,
       coalesce(r.errors_total, 0) AS errors_total,
       epoch(d.latest_data) AS latest_data
FROM runs AS r
FULL JOIN data_end AS d ON d.source = r.source
