-- When an ingest last loaded new billing rows (any process: `spendscope ingest` or the service), from
-- collector_runs. The service's analysis is due when this is later than its last successful analysis.
SELECT max(finished_at) FROM collector_runs WHERE status = 'loaded'
