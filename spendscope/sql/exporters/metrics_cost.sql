-- Cost gauges of the metrics exporter, from the stored allocation (allocated_daily).
-- Grain: (provider, account, service, team, environment, currency). account = SubAccountId, else
-- BillingAccountId. month_to_date: EffectiveCost (amortized) of each provider's latest billing
-- period. hourly_rate: EffectiveCost of the provider's most recent complete day / 24, where a day is
-- complete when the provider's usage rows reach past it (date(max usage ChargePeriodEnd) > day);
-- month-level rows (purchases, support fees) are not counted as usage when finding that end.
WITH latest AS (
    SELECT provider, max(billing_period_start) AS period
    FROM allocated_daily
    GROUP BY provider
),
usage_end AS (
    SELECT ProviderName AS provider, CAST(timezone('UTC', max(ChargePeriodEnd)) AS DATE) AS end_day
    FROM billing
    WHERE ChargeCategory = 'Usage' AND ChargeFrequency = 'Usage-Based'
    GROUP BY ProviderName
),
complete AS (
    SELECT a.provider, max(a.day) AS day
    FROM allocated_daily AS a
    JOIN usage_end AS u ON u.provider = a.provider
    WHERE a.day < u.end_day
    GROUP BY a.provider
)
SELECT a.provider,
       coalesce(a.sub_account, a.account) AS account,
       a.service,
       a.team,
       a.environment,
       a.currency,
       coalesce(sum(a.EffectiveCost) FILTER (WHERE a.billing_period_start = l.period), 0) AS month_to_date,
       coalesce(sum(a.EffectiveCost) FILTER (WHERE a.day = c.day), 0) / 24 AS hourly_rate
FROM allocated_daily AS a
JOIN latest AS l ON l.provider = a.provider
LEFT JOIN complete AS c ON c.provider = a.provider
WHERE a.billing_period_start = l.period OR a.day = c.day
GROUP BY ALL
