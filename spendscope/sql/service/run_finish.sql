-- A run of a `spendscope serve` job ends. Params: $run_id, $status (succeeded, failed or interrupted),
-- $finished_at (TIMESTAMPTZ, the service's clock), $changed (BOOLEAN), $detail, $error (one line each, or NULL).
UPDATE service_runs
SET finished_at = $finished_at, status = $status, changed = $changed, detail = $detail, error = $error
WHERE run_id = $run_id
