-- Billing aggregated for cost allocation (spendscope.analysis.allocation.allocate).
-- Grain: (billing_period_start, day, ProviderName, BillingAccountId, SubAccountId, ServiceName,
-- ServiceCategory, ServiceSubcategory, ChargeCategory, RegionId, tag values of the configured keys,
-- matching resource rule, BillingCurrency); money summed per BillingCurrency, never across.
-- day is the UTC date of ChargePeriodStart.
-- Params: $period_start (TIMESTAMPTZ, or NULL for every period); $tag0.. (tag keys, lower case,
-- matched case-insensitively, bound as values); $rx0.., $rx_from0.., $rx_to0.. (resource rule
-- patterns and the dates of their rule set). {tag_columns} and {resource_rule} are built in code
-- from these placeholders and ResourceName / ResourceId only.
WITH charges AS (
    SELECT *, CAST(timezone('UTC', ChargePeriodStart) AS DATE) AS day
    FROM billing
    WHERE $period_start IS NULL
       OR (BillingPeriodStart >= $period_start::TIMESTAMPTZ
           AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH)
)
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
       {tag_columns}
       {resource_rule} AS resource_rule,
       BillingCurrency AS currency,
       sum(BilledCost) AS BilledCost,
       sum(EffectiveCost) AS EffectiveCost
FROM charges
GROUP BY ALL
