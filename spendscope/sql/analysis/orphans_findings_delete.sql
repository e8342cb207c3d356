-- Remove the orphan findings of earlier runs (after the new run's insert, in the same transaction).
-- Params: $run_id (the run whose findings stay).
DELETE FROM findings WHERE kind = 'orphan' AND run_id <> $run_id
