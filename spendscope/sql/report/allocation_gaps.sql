-- Unallocated spend (allocated_daily team 'unallocated': no tag, account map or rule matched) of the
-- period and the previous month, per currency: money and percent of the currency's EffectiveCost.
-- Grain: one row per currency. Params: $period_start, $previous_start (TIMESTAMPTZ, UTC month starts).
WITH sums AS (
    SELECT currency,
           billing_period_start >= $period_start::TIMESTAMPTZ AS current,
           sum(EffectiveCost) AS total,
           coalesce(sum(EffectiveCost) FILTER (WHERE team = 'unallocated'), 0) AS unallocated
    FROM allocated_daily
    WHERE billing_period_start >= $previous_start::TIMESTAMPTZ
      AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
    GROUP BY ALL
),
pct AS (
    SELECT *, CASE WHEN total <> 0 THEN CAST(unallocated / total * 100 AS DOUBLE) END AS unallocated_pct
    FROM sums
)
SELECT coalesce(c.currency, p.currency) AS currency,
       coalesce(c.total, 0) AS EffectiveCost,
       coalesce(c.unallocated, 0) AS unallocated,
       c.unallocated_pct,
       p.unallocated_pct AS previous_unallocated_pct
FROM (SELECT * FROM pct WHERE current) AS c
FULL JOIN (SELECT * FROM pct WHERE NOT current) AS p USING (currency)
ORDER BY currency
