-- What the metrics snapshot depends on: when any of these change, the exporter rebuilds it.
SELECT (SELECT coalesce(max(run_id), 0) FROM analysis_runs WHERE status = 'succeeded') AS analysis_run,
       (SELECT coalesce(max(ingest_id), 0) FROM ingests) AS ingest,
       (SELECT count(*) FROM collector_runs) AS collector_runs
