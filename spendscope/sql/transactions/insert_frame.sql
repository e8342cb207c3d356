-- Insert the registered frame `transactions_frame` (service, window_start, window_end, count) as
-- one source's rows. Params: $source (VARCHAR).
INSERT INTO transactions (service, window_start, window_end, count, source, ingest_id)
SELECT CAST(service AS VARCHAR),
       CAST(window_start AS TIMESTAMPTZ),
       CAST(window_end AS TIMESTAMPTZ),
       CAST(count AS DECIMAL(38, 6)),
       $source,
       NULL
FROM transactions_frame
