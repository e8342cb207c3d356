-- Tag compliance of the period and the previous month (untagged_daily of the latest untagged runs),
-- per currency. taggable excludes untaggable charges (tax, credits, support), which are reported
-- apart; noncompliant = untagged + mistagged; noncompliant_pct = noncompliant / taggable × 100
-- (NULL when nothing is taggable). Money is EffectiveCost. Grain: one row per currency.
-- Params: $period_start, $previous_start (TIMESTAMPTZ, first instants of the months, UTC).
WITH sums AS (
    SELECT currency,
           billing_period_start >= $period_start::TIMESTAMPTZ AS current,
           coalesce(sum(EffectiveCost) FILTER (WHERE status <> 'untaggable'), 0) AS taggable,
           coalesce(sum(EffectiveCost) FILTER (WHERE status = 'untagged'), 0) AS untagged,
           coalesce(sum(EffectiveCost) FILTER (WHERE status = 'mistagged'), 0) AS mistagged,
           coalesce(sum(EffectiveCost) FILTER (WHERE status = 'untaggable'), 0) AS untaggable
    FROM untagged_daily
    WHERE billing_period_start >= $previous_start::TIMESTAMPTZ
      AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
    GROUP BY ALL
),
pct AS (
    SELECT *, untagged + mistagged AS noncompliant,
           CASE WHEN taggable <> 0 THEN CAST((untagged + mistagged) / taggable * 100 AS DOUBLE) END AS noncompliant_pct
    FROM sums
)
SELECT coalesce(c.currency, p.currency) AS currency,
       coalesce(c.taggable, 0) AS taggable,
       coalesce(c.untagged, 0) AS untagged,
       coalesce(c.mistagged, 0) AS mistagged,
       coalesce(c.noncompliant, 0) AS noncompliant,
       c.noncompliant_pct,
       coalesce(c.untaggable, 0) AS untaggable,
       p.noncompliant_pct AS previous_noncompliant_pct
FROM (SELECT * FROM pct WHERE current) AS c
FULL JOIN (SELECT * FROM pct WHERE NOT current) AS p USING (currency)
ORDER BY currency
