-- Daily noncompliant share (untagged + mistagged of taggable, untagged_daily) and unallocated share
-- (team 'unallocated' of all, allocated_daily) of EffectiveCost, per currency, in percent, for the
-- trend chart. Grain: one row per (measure, currency, day). Params: $period_start (TIMESTAMPTZ).
WITH tags AS (
    SELECT 'untagged + mistagged' AS measure, currency, day,
           sum(EffectiveCost) FILTER (WHERE status IN ('untagged', 'mistagged')) AS part,
           sum(EffectiveCost) FILTER (WHERE status <> 'untaggable') AS whole
    FROM untagged_daily
    WHERE billing_period_start >= $period_start::TIMESTAMPTZ
      AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
    GROUP BY ALL
),
alloc AS (
    SELECT 'unallocated' AS measure, currency, day,
           sum(EffectiveCost) FILTER (WHERE team = 'unallocated') AS part,
           sum(EffectiveCost) AS whole
    FROM allocated_daily
    WHERE billing_period_start >= $period_start::TIMESTAMPTZ
      AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
    GROUP BY ALL
)
SELECT measure, currency, day, CAST(coalesce(part, 0) / whole * 100 AS DOUBLE) AS pct
FROM (SELECT * FROM tags UNION ALL SELECT * FROM alloc)
WHERE whole IS NOT NULL AND whole <> 0
ORDER BY measure, currency, day
