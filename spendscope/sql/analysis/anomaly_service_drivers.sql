-- Breakdown of the anomalous service × account × region series only, for their drivers: cost per
-- resource, usage type and SKU per day over each anomaly's window. Grain: (anomaly_id, day, ResourceId,
-- x_UsageType, SkuId). Same charges as anomaly_service_series.sql.
-- Reads the registered frame anomaly_windows (anomaly_id, ProviderName, ServiceName, SubAccountId,
-- RegionId, currency, lo, hi: TIMESTAMPTZ, ChargePeriodStart in [lo, hi)).
SELECT w.anomaly_id,
       utc_day(b.ChargePeriodStart) AS day,
       b.ResourceId,
       b.x_UsageType,
       b.SkuId,
       sum(b.EffectiveCost) AS cost
FROM billing AS b
JOIN anomaly_windows AS w
  ON b.ProviderName IS NOT DISTINCT FROM w.ProviderName
 AND b.ServiceName IS NOT DISTINCT FROM w.ServiceName
 AND b.SubAccountId IS NOT DISTINCT FROM w.SubAccountId
 AND b.RegionId IS NOT DISTINCT FROM w.RegionId
 AND b.BillingCurrency = w.currency
 AND b.ChargePeriodStart >= w.lo
 AND b.ChargePeriodStart < w.hi
WHERE coalesce(b.ChargeFrequency, '') <> 'Recurring'
  AND coalesce(b.ChargeCategory, '') NOT IN ('Purchase', 'Tax', 'Credit')
GROUP BY ALL
