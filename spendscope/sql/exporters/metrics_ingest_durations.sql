-- Durations of successful loads (one per ingest_id) per source, for the ingest duration histogram.
SELECT source, epoch(max(finished_at)) - epoch(min(started_at)) AS seconds
FROM ingests
WHERE status IN ('loaded', 'replaced') AND finished_at IS NOT NULL
GROUP BY source, ingest_id
