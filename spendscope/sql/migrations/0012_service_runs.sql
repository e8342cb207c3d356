-- Migration 12: the runs of `spendscope serve`'s scheduled jobs (ingest:SOURCE, analyze, export, report):
-- the ledger the service decides missed runs from when it starts, and /readyz and /api/v1/jobs read.
-- Grain: one row per run of one job. run_id: random hex, also in every log line of the run.
-- status: running, succeeded, failed, or interrupted (the process ended during the run: marked so on the
-- next start, or stopped by a shutdown that timed out; the run's own transaction was rolled back).
-- changed: the run stored something new (an ingest that loaded rows); detail and error: one line each,
-- no secrets (exception text only). pid: the serving process.
CREATE TABLE service_runs (
    run_id VARCHAR NOT NULL,
    job VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    changed BOOLEAN,
    detail VARCHAR,
    error VARCHAR,
    pid INTEGER NOT NULL
);
