-- Staging: an empty table shaped like billing, into which one load's files are inserted (each file
-- committed on its own, so DuckDB can evict and spill it) and then checked and normalized, before the
-- load's transaction moves it into billing (staging/publish.sql). One load at a time: the warehouse
-- has one writer. Whatever a killed load left here is dropped at the next open or load.
CREATE OR REPLACE TABLE billing_staging AS SELECT * FROM billing LIMIT 0
