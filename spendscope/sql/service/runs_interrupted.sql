-- On start of `spendscope serve` (which owns the warehouse, so nothing else is running): runs left
-- 'running' by a process that died or was stopped mid-run are marked 'interrupted'. Their work was
-- rolled back with their transaction. Returns the runs marked.
UPDATE service_runs
SET status = 'interrupted', finished_at = now(), error = 'the service stopped during the run'
WHERE status = 'running'
RETURNING run_id, job
