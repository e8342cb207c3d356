-- The report's default period: the latest billing period whose usage is complete, and the latest
-- period of any kind. A period is complete when every provider billed in it has usage rows
-- (ChargeCategory 'Usage', ChargeFrequency 'Usage-Based') ending at or after the period's end;
-- month-level rows (support fees, purchases) span the whole month from day one, so they do not count.
-- Grain: one row. Params: none.
WITH usage_end AS (
    SELECT ProviderName, max(ChargePeriodEnd) AS usage_end
    FROM billing
    WHERE ChargeCategory = 'Usage' AND ChargeFrequency = 'Usage-Based'
    GROUP BY ProviderName
),
periods AS (
    SELECT DISTINCT date_trunc('month', timezone('UTC', BillingPeriodStart)) AS period,
           BillingPeriodEnd,
           ProviderName
    FROM billing
),
complete AS (
    SELECT p.period, bool_and(coalesce(u.usage_end >= p.BillingPeriodEnd, FALSE)) AS complete
    FROM periods AS p
    LEFT JOIN usage_end AS u USING (ProviderName)
    GROUP BY p.period
)
SELECT CAST(max(period) FILTER (WHERE complete) AS DATE) AS latest_complete,
       CAST(max(period) AS DATE) AS latest
FROM complete
