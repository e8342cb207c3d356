-- Tag coverage by team (allocated_daily of the period): of each team's directly allocated
-- EffectiveCost (shared-cost splits excluded), the part whose environment was resolved too
-- (environment <> 'unallocated'). untagged_daily has no team grain, so the allocation stands in.
-- Grain: one row per (team, currency). Params: $period_start (TIMESTAMPTZ, first instant of the month).
SELECT team,
       currency,
       sum(EffectiveCost) AS direct,
       coalesce(sum(EffectiveCost) FILTER (WHERE environment <> 'unallocated'), 0) AS with_environment,
       CASE WHEN sum(EffectiveCost) <> 0
            THEN CAST(coalesce(sum(EffectiveCost) FILTER (WHERE environment <> 'unallocated'), 0)
                      / sum(EffectiveCost) * 100 AS DOUBLE) END AS coverage_pct
FROM allocated_daily
WHERE billing_period_start >= $period_start::TIMESTAMPTZ
  AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
  AND NOT shared
  AND team <> 'unallocated'
GROUP BY ALL
ORDER BY currency, coverage_pct NULLS LAST, team
