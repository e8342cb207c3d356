-- Migration 2: collector cursors (e.g. the BigQuery export_time watermark), written in the same
-- transaction as the data they describe, so a crash never advances a cursor past unloaded rows.
-- Grain: one row per (source, key).
CREATE TABLE collector_state (
    source VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
