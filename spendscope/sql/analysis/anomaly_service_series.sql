-- Daily usage cost of each service × account × region: the series spendscope.analysis.anomalies scans.
-- Grain: (ProviderName, ServiceName, SubAccountId, RegionId, BillingCurrency, day) with any charge;
-- day is the UTC date of ChargePeriodStart; EffectiveCost (amortized) per BillingCurrency, never converted.
-- Monthly bookings are kept out (ChargeFrequency 'Recurring'; ChargeCategory Purchase, Tax, Credit):
-- a change in them is not a daily anomaly.
-- Params: $start, $stop (TIMESTAMPTZ, ChargePeriodStart in [$start, $stop)).
SELECT ProviderName,
       ServiceName,
       SubAccountId,
       RegionId,
       BillingCurrency AS currency,
       utc_day(ChargePeriodStart) AS day,
       sum(EffectiveCost) AS cost
FROM billing
WHERE ChargePeriodStart >= $start::TIMESTAMPTZ
  AND ChargePeriodStart < $stop::TIMESTAMPTZ
  AND coalesce(ChargeFrequency, '') <> 'Recurring'
  AND coalesce(ChargeCategory, '') NOT IN ('Purchase', 'Tax', 'Credit')
GROUP BY ALL
