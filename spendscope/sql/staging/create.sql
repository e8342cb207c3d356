-- Staging: an empty temporary table shaped like billing, into which one load's files are inserted (each
-- file committed on its own, so DuckDB can spill it to the temp directory and memory stays within
-- memory_limit) and then checked and normalized, before the load's transaction moves it into billing
-- (staging/publish.sql). Temporary: it is never written to the warehouse file (cheaper to fill, nothing
-- left behind by a killed load) and belongs to the loading connection alone.
CREATE OR REPLACE TEMP TABLE billing_staging AS SELECT * FROM billing LIMIT 0
