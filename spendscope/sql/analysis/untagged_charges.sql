-- Billing aggregated for the tag-compliance report (spendscope.analysis.untagged).
-- Grain: (BillingPeriodStart, day, SubAccountId, ServiceName, ResourceId, ChargeCategory, ServiceSubcategory,
-- BillingCurrency, values of the required tag keys); EffectiveCost summed per BillingCurrency.
-- day is the UTC date of ChargePeriodStart.
-- Params: $period_start (TIMESTAMPTZ, or NULL for every period); $keys (VARCHAR[]: the required tag
-- keys, lower case). tag_values[i] is the value of the first tag whose key equals $keys[i] ignoring
-- case (NULL when absent); keys are bound values and escaped as JSON pointers, never spliced.
WITH charges AS (
    SELECT *
    FROM billing
    WHERE $period_start IS NULL
       OR (BillingPeriodStart >= $period_start::TIMESTAMPTZ
           AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH)
)
SELECT BillingPeriodStart AS billing_period_start,
       CAST(timezone('UTC', ChargePeriodStart) AS DATE) AS day,
       SubAccountId,
       ServiceName,
       ResourceId,
       ChargeCategory,
       ServiceSubcategory,
       BillingCurrency AS currency,
       list_transform(
           $keys::VARCHAR[],
           k -> json_extract_string(
               Tags,
               '/' || replace(replace(list_filter(json_keys(Tags), j -> lower(j) = k)[1], '~', '~0'), '/', '~1')
           )
       ) AS tag_values,
       sum(EffectiveCost) AS EffectiveCost
FROM charges
GROUP BY ALL
