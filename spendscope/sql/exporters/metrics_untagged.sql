-- Untagged cost ratio per account for the metrics exporter, from untagged_daily (latest period).
-- ratio = (untagged + mistagged EffectiveCost) / taggable EffectiveCost (untaggable charges are
-- outside both), in the account's main currency (the one with the most taggable cost); NULL when
-- the account has no taggable cost.
WITH latest AS (
    SELECT max(billing_period_start) AS period FROM untagged_daily
),
per_currency AS (
    SELECT SubAccountId AS account,
           currency,
           sum(EffectiveCost) FILTER (WHERE status <> 'untaggable') AS taggable,
           sum(EffectiveCost) FILTER (WHERE status IN ('untagged', 'mistagged')) AS noncompliant
    FROM untagged_daily
    WHERE billing_period_start = (SELECT period FROM latest) AND SubAccountId IS NOT NULL
    GROUP BY ALL
)
SELECT account,
       arg_max(CASE WHEN taggable <> 0 THEN coalesce(noncompliant, 0) / taggable END, abs(taggable)) AS ratio
FROM per_currency
GROUP BY account
