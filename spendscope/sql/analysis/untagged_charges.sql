-- Billing aggregated for the tag-compliance report (spendscope.analysis.untagged).
-- Grain: (BillingPeriodStart, day, SubAccountId, ServiceName, ResourceId, ChargeCategory, ServiceSubcategory,
-- BillingCurrency, values of the required tag keys); EffectiveCost summed per BillingCurrency.
-- day is the UTC date of ChargePeriodStart.
-- Params: $period_start (TIMESTAMPTZ, or NULL for every period); $keys (VARCHAR[]: the required tag
-- keys, lower case). tag_values[i] is the value of the first tag whose key equals $keys[i] ignoring
-- case (NULL when absent); keys are bound values and escaped as JSON pointers, never spliced.
-- Tag values are extracted once per distinct Tags text, not once per row (see allocation_daily.sql).
WITH charges AS (
    SELECT *
    FROM billing
    WHERE $period_start IS NULL
       OR (BillingPeriodStart >= $period_start::TIMESTAMPTZ
           AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH)
),
grouped AS (
    SELECT BillingPeriodStart AS billing_period_start,
           utc_day(ChargePeriodStart) AS day,
           SubAccountId,
           ServiceName,
           ResourceId,
           ChargeCategory,
           ServiceSubcategory,
           BillingCurrency AS currency,
           CAST(Tags AS VARCHAR) AS tags_text,
           sum(EffectiveCost) AS EffectiveCost
    FROM charges
    GROUP BY ALL
),
tag_sets AS (
    SELECT tags_text,
           list_transform(
               $keys::VARCHAR[],
               k -> json_extract_string(
                   Tags,
                   '/' || replace(replace(list_filter(json_keys(Tags), j -> lower(j) = k)[1], '~', '~0'), '/', '~1')
               )
           ) AS tag_values
    FROM (SELECT DISTINCT tags_text, CAST(tags_text AS JSON) AS Tags FROM grouped)
)
SELECT g.billing_period_start,
       g.day,
       g.SubAccountId,
       g.ServiceName,
       g.ResourceId,
       g.ChargeCategory,
       g.ServiceSubcategory,
       g.currency,
       t.tag_values,
       sum(g.EffectiveCost) AS EffectiveCost
FROM grouped AS g
LEFT JOIN tag_sets AS t ON t.tags_text IS NOT DISTINCT FROM g.tags_text
GROUP BY ALL
