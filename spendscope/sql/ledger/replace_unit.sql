-- Ledger: remove the rows of the currently loaded unit (source, period) that a new load replaces.
-- Params: $old_ingest_id, $period.
DELETE FROM billing WHERE x_IngestId = $old_ingest_id AND BillingPeriodStart = $period
