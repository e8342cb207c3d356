-- Doctor (warning): two sources carry the same billing account and period: probably the same bill
-- ingested twice under different names (a double count).
-- Grain: one row per (account, period). Zero rows = pass.
SELECT 'warning' AS level,
       'billing account ' || BillingAccountId || ' period ' || strftime(BillingPeriodStart, '%Y-%m')
         || ' comes from ' || count(DISTINCT i.source)::VARCHAR || ' sources ('
         || string_agg(DISTINCT i.source, ', ') || '): likely double counted' AS problem
FROM (SELECT DISTINCT x_IngestId, BillingPeriodStart, BillingAccountId FROM billing) b
JOIN ingests i ON i.ingest_id = b.x_IngestId AND i.billing_period_start = b.BillingPeriodStart
WHERE i.status = 'loaded'
GROUP BY BillingAccountId, BillingPeriodStart
HAVING count(DISTINCT i.source) > 1
