-- Migration 10: every collector run, including the ones that found nothing new (the `ingests`
-- ledger records loads only). Read by the metrics exporter for collector freshness and errors:
-- a source whose last success is old has silently stopped ("telemetry loss").
-- Grain: one row per run of one source. status: loaded, unchanged or failed; rows: billing rows
-- loaded (0 when unchanged or failed); error: one line, no secrets (the exception text only).
CREATE TABLE collector_runs (
    source VARCHAR NOT NULL,
    collector VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    error VARCHAR
);
