-- Doctor: at most one loaded unit per (source, billing period).
-- Grain: one row per duplicated unit. Zero rows = pass.
SELECT 'error' AS level,
       'source ' || source || ' period ' || strftime(billing_period_start, '%Y-%m') || ' is loaded '
         || count(*)::VARCHAR || ' times (ingests ' || string_agg(ingest_id::VARCHAR, ', ') || ')' AS problem
FROM ingests
WHERE status = 'loaded' AND billing_period_start IS NOT NULL
GROUP BY source, billing_period_start
HAVING count(*) > 1
