-- Doctor: no billing row belongs to a load unit that is not currently loaded (replaced, failed or
-- unknown): such rows would be double counted.
-- Grain: one row per (ingest, period) of stray rows. Zero rows = pass.
SELECT 'error' AS level,
       count(*)::VARCHAR || ' billing rows of ingest ' || b.x_IngestId::VARCHAR || ' period '
         || strftime(b.BillingPeriodStart, '%Y-%m') || ' belong to no loaded unit' AS problem
FROM billing b
LEFT JOIN ingests i
  ON i.ingest_id = b.x_IngestId AND i.billing_period_start = b.BillingPeriodStart AND i.status = 'loaded'
WHERE i.ingest_id IS NULL
GROUP BY b.x_IngestId, b.BillingPeriodStart
