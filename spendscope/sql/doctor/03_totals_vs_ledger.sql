-- Doctor: the ledger's totals per loaded unit and currency equal the sums of its billing rows.
-- Grain: one row per inconsistent (unit, currency). Zero rows = pass.
WITH actual AS (
    SELECT x_IngestId, BillingPeriodStart, BillingCurrency,
           sum(BilledCost) AS BilledCost, sum(EffectiveCost) AS EffectiveCost
    FROM billing GROUP BY ALL
), ledger AS (
    SELECT t.* FROM ingest_totals t
    JOIN ingests i ON i.ingest_id = t.ingest_id AND i.billing_period_start = t.billing_period_start
    WHERE i.status = 'loaded'
)
SELECT 'error' AS level,
       'ingest ' || coalesce(l.ingest_id, a.x_IngestId)::VARCHAR || ' '
         || coalesce(l.BillingCurrency, a.BillingCurrency) || ': ledger BilledCost '
         || coalesce(l.BilledCost::VARCHAR, 'none') || ' vs rows ' || coalesce(a.BilledCost::VARCHAR, 'none')
         || ', EffectiveCost ' || coalesce(l.EffectiveCost::VARCHAR, 'none') || ' vs '
         || coalesce(a.EffectiveCost::VARCHAR, 'none') AS problem
FROM ledger l
FULL OUTER JOIN actual a
  ON a.x_IngestId = l.ingest_id AND a.BillingPeriodStart = l.billing_period_start
 AND a.BillingCurrency = l.BillingCurrency
WHERE l.BilledCost IS DISTINCT FROM a.BilledCost OR l.EffectiveCost IS DISTINCT FROM a.EffectiveCost
