-- Billing aggregated for cost allocation (spendscope.analysis.allocation.allocate).
-- Grain: (billing_period_start, day, ProviderName, BillingAccountId, SubAccountId, ServiceName,
-- ServiceCategory, ServiceSubcategory, ChargeCategory, RegionId, tag values of the configured keys,
-- matching resource rule, BillingCurrency); money summed per BillingCurrency, never across.
-- day is the UTC date of ChargePeriodStart.
-- Params: $period_start (TIMESTAMPTZ, or NULL for every period); $tag0.. (tag keys, lower case,
-- matched case-insensitively, bound as values); $rx0.., $rx_from0.., $rx_to0.. (resource rule
-- patterns and the dates of their rule set). {tag_columns} and {resource_rule} are built in code
-- from these placeholders and ResourceName / ResourceId only; {tag_refs} lists t.tag0.. .
-- Tag values are extracted once per distinct Tags text (a bill has few: 132 in 10 M generated rows),
-- not once per row: rows are grouped with their Tags first, then joined with the extracted values.
WITH charges AS (
    SELECT *, utc_day(ChargePeriodStart) AS day
    FROM billing
    WHERE $period_start IS NULL
       OR (BillingPeriodStart >= $period_start::TIMESTAMPTZ
           AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH)
),
grouped AS (
    SELECT BillingPeriodStart AS billing_period_start,
           day,
           ProviderName AS provider,
           BillingAccountId AS account,
           SubAccountId AS sub_account,
           ServiceName AS service,
           ServiceCategory AS service_category,
           ServiceSubcategory AS service_subcategory,
           ChargeCategory AS charge_category,
           RegionId AS region,
           {resource_rule} AS resource_rule,
           CAST(Tags AS VARCHAR) AS tags_text,
           BillingCurrency AS currency,
           sum(BilledCost) AS BilledCost,
           sum(EffectiveCost) AS EffectiveCost
    FROM charges
    GROUP BY ALL
),
tag_sets AS (
    SELECT {tag_columns} tags_text
    FROM (SELECT DISTINCT tags_text, CAST(tags_text AS JSON) AS Tags FROM grouped)
)
SELECT g.billing_period_start,
       g.day,
       g.provider,
       g.account,
       g.sub_account,
       g.service,
       g.service_category,
       g.service_subcategory,
       g.charge_category,
       g.region,
       {tag_refs}
       g.resource_rule,
       g.currency,
       sum(g.BilledCost) AS BilledCost,
       sum(g.EffectiveCost) AS EffectiveCost
FROM grouped AS g
LEFT JOIN tag_sets AS t ON t.tags_text IS NOT DISTINCT FROM g.tags_text
GROUP BY ALL
