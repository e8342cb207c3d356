-- A run of a `spendscope serve` job begins (status 'running'); its own statement, committed at once.
-- Params: $run_id, $job, $started_at (TIMESTAMPTZ, the service's clock), $pid.
INSERT INTO service_runs (run_id, job, started_at, status, pid)
VALUES ($run_id, $job, $started_at, 'running', $pid)
