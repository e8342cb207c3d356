-- Spark twin of gcp_billing_to_focus.sql (same grain, same figures; tests/spark/test_overrides.py runs both
-- on one export and compares every FOCUS column). Hand-written because sqlglot's translation would change
-- its meaning: list_sum has no Spark function (AGGREGATE with NULL amounts skipped, as list_sum does),
-- len() of a list is size(), list[1] is try_element_at (NULL, not an error, on an empty list), strptime's
-- %z has no to_timestamp pattern (the session is UTC), and a json_object keeping null members is
-- to_json(named_struct(...), ignoreNullFields=false). x_Extensions differs in formatting only (Spark's
-- timestamp and number text); it is not carried into the daily rollup.
-- Table: categories (reference/gcp_service_categories.csv, registered by the caller).
-- The export subquery slot (below) is filled as in the DuckDB file, translated by warehouse.spark.dialect.
WITH export AS (
    {export}
), cat AS (
    SELECT * FROM categories
), credited AS (
    SELECT
        export.*,
        CAST(cost AS DECIMAL(38, 12)) AS cost_d,
        transform(coalesce(credits, array()), c -> named_struct(
            'type', coalesce(c.type, 'UNKNOWN'), 'id', c.id, 'name', c.name, 'amount', CAST(c.amount AS DECIMAL(38, 12))
        )) AS cr
    FROM export
), typed AS (
    SELECT
        credited.*,
        aggregate(cr, CAST(0 AS DECIMAL(38, 12)), (acc, c) -> acc + coalesce(c.amount, 0)) AS credits_total,
        aggregate(filter(cr, c -> c.type IN ('SUSTAINED_USAGE_DISCOUNT', 'DISCOUNT')),
            CAST(0 AS DECIMAL(38, 12)), (acc, c) -> acc + coalesce(c.amount, 0)) AS negotiated_credits,
        try_element_at(filter(cr, c -> c.type IN ('COMMITTED_USAGE_DISCOUNT', 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE')), 1)
            AS cud,
        aggregate(filter(cr, c -> c.type IN ('COMMITTED_USAGE_DISCOUNT', 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE')),
            CAST(0 AS DECIMAL(38, 12)), (acc, c) -> acc + coalesce(c.amount, 0)) AS cud_credits,
        to_timestamp(invoice_month || '01', 'yyyyMMdd') AS period_start,
        CASE
            WHEN cost_type = 'tax' THEN 'Tax'
            WHEN cost_type IN ('adjustment', 'rounding_error') THEN 'Adjustment'
            WHEN sku_description ILIKE 'Commitment%' THEN 'Purchase'
            ELSE 'Usage'
        END AS charge_category,
        CASE lower(usage_pricing_unit)
            WHEN 'hour' THEN 'Hours'
            WHEN 'second' THEN 'Seconds'
            WHEN 'month' THEN 'Months'
            WHEN 'gibibyte' THEN 'GiB'
            WHEN 'tebibyte' THEN 'TiB'
            WHEN 'gibibyte hour' THEN 'GiB-Hours'
            WHEN 'gibibyte month' THEN 'GiB-Months'
            WHEN 'gibibyte second' THEN 'GiB-Seconds'
            WHEN 'count' THEN 'Count'
            WHEN 'request' THEN 'Requests'
            WHEN 'requests' THEN 'Requests'
            WHEN 'thousand requests' THEN '1000 Requests'
            WHEN 'million requests' THEN '1000000 Requests'
            ELSE NULLIF(usage_pricing_unit, '')
        END AS focus_unit,
        CAST(usage_amount_in_pricing_units AS DECIMAL(38, 12)) AS pricing_qty
    FROM credited
), costed AS (
    SELECT
        typed.*,
        cost_d + credits_total AS billed,
        CASE WHEN charge_category IN ('Usage', 'Purchase')
             THEN coalesce(CAST(cost_at_list AS DECIMAL(38, 12)), cost_d) ELSE cost_d + credits_total END AS list_cost,
        CASE WHEN charge_category IN ('Usage', 'Purchase')
             THEN cost_d + negotiated_credits ELSE cost_d + credits_total END AS contracted_cost,
        charge_category = 'Usage' AND cud.id IS NOT NULL AS covered,
        charge_category IN ('Usage', 'Purchase') AND pricing_qty IS NOT NULL AND pricing_qty <> 0 AS priced
    FROM typed
), tagged AS (
    SELECT
        costed.*,
        concat(
            transform(coalesce(labels, array()), l -> named_struct('k', l.key, 'v', l.value)),
            transform(coalesce(project_labels, array()), l -> named_struct('k', 'project:' || l.key, 'v', l.value)),
            transform(coalesce(system_labels, array()), l -> named_struct('k', 'system:' || l.key, 'v', l.value))
        ) AS tag_list
    FROM costed
)
SELECT
    NULLIF(location_zone, '') AS AvailabilityZone,
    billed AS BilledCost,
    CAST(billing_account_id AS STRING) AS BillingAccountId,
    -- the export carries no account name: the id stands in (FOCUS: not null)
    CAST(billing_account_id AS STRING) AS BillingAccountName,
    'Billing Account' AS BillingAccountType,
    CAST(currency AS STRING) AS BillingCurrency,
    period_start + INTERVAL '1' MONTH AS BillingPeriodEnd,
    period_start AS BillingPeriodStart,
    charge_category AS ChargeCategory,
    NULL AS ChargeClass,
    NULLIF(sku_description, '') AS ChargeDescription,
    CASE charge_category WHEN 'Usage' THEN 'Usage-Based' WHEN 'Adjustment' THEN 'One-Time' ELSE 'Recurring' END
        AS ChargeFrequency,
    CAST(usage_end_time AS TIMESTAMP) AS ChargePeriodEnd,
    CAST(usage_start_time AS TIMESTAMP) AS ChargePeriodStart,
    CASE WHEN covered THEN CASE WHEN cud.type = 'COMMITTED_USAGE_DISCOUNT' THEN 'Usage' ELSE 'Spend' END END
        AS CommitmentDiscountCategory,
    CASE WHEN covered THEN cud.id END AS CommitmentDiscountId,
    CASE WHEN covered THEN NULLIF(cud.name, '') END AS CommitmentDiscountName,
    -- the covered share of the usage (Usage CUDs) or of the spend (Spend CUDs, in BillingCurrency)
    CASE WHEN covered AND cud.type = 'COMMITTED_USAGE_DISCOUNT' AND cost_d <> 0 AND pricing_qty IS NOT NULL
             THEN CAST(pricing_qty * least(try_divide(CAST(-cud_credits AS DOUBLE), CAST(cost_d AS DOUBLE)), 1) AS DECIMAL(38, 12))
         WHEN covered AND cud.type <> 'COMMITTED_USAGE_DISCOUNT' THEN -cud_credits END AS CommitmentDiscountQuantity,
    CASE WHEN covered THEN 'Used' END AS CommitmentDiscountStatus,
    CASE WHEN covered THEN 'Committed Use Discount' END AS CommitmentDiscountType,
    CASE WHEN covered THEN CASE WHEN cud.type = 'COMMITTED_USAGE_DISCOUNT' THEN focus_unit ELSE CAST(currency AS STRING) END END
        AS CommitmentDiscountUnit,
    CASE WHEN charge_category = 'Usage' THEN pricing_qty END AS ConsumedQuantity,
    CASE WHEN charge_category = 'Usage' AND pricing_qty IS NOT NULL THEN focus_unit END AS ConsumedUnit,
    contracted_cost AS ContractedCost,
    CASE WHEN priced THEN CAST(try_divide(CAST(contracted_cost AS DOUBLE), CAST(pricing_qty AS DOUBLE)) AS DECIMAL(38, 12)) END AS ContractedUnitPrice,
    billed AS EffectiveCost,
    NULL AS InvoiceId,
    'Google Cloud' AS InvoiceIssuerName,
    list_cost AS ListCost,
    CASE WHEN priced THEN CAST(try_divide(CAST(list_cost AS DOUBLE), CAST(pricing_qty AS DOUBLE)) AS DECIMAL(38, 12)) END AS ListUnitPrice,
    CASE WHEN charge_category NOT IN ('Usage', 'Purchase') THEN NULL
         WHEN covered THEN 'Committed' ELSE 'Standard' END AS PricingCategory,
    CAST(currency AS STRING) AS PricingCurrency,
    CASE WHEN priced THEN CAST(try_divide(CAST(contracted_cost AS DOUBLE), CAST(pricing_qty AS DOUBLE)) AS DECIMAL(38, 12)) END
        AS PricingCurrencyContractedUnitPrice,
    billed AS PricingCurrencyEffectiveCost,
    CASE WHEN priced THEN CAST(try_divide(CAST(list_cost AS DOUBLE), CAST(pricing_qty AS DOUBLE)) AS DECIMAL(38, 12)) END AS PricingCurrencyListUnitPrice,
    CASE WHEN charge_category IN ('Usage', 'Purchase') THEN pricing_qty END AS PricingQuantity,
    CASE WHEN charge_category IN ('Usage', 'Purchase') AND pricing_qty IS NOT NULL THEN focus_unit END AS PricingUnit,
    'Google Cloud' AS ProviderName,
    'Google Cloud' AS PublisherName,
    NULLIF(location_region, '') AS RegionId,
    NULLIF(location_region, '') AS RegionName,
    coalesce(NULLIF(resource_global_name, ''), NULLIF(resource_name, '')) AS ResourceId,
    NULLIF(resource_name, '') AS ResourceName,
    -- the resource's collection in its name (…/instances/web-1 → instances), else the service
    CASE WHEN coalesce(NULLIF(resource_global_name, ''), NULLIF(resource_name, '')) IS NOT NULL THEN coalesce(
        NULLIF(regexp_extract(coalesce(NULLIF(resource_global_name, ''), resource_name), '([^/]+)/[^/]+$', 1), ''),
        tagged.service_description) END AS ResourceType,
    coalesce(cat.ServiceCategory, 'Other') AS ServiceCategory,
    tagged.service_description AS ServiceName,
    coalesce(cat.ServiceSubcategory, 'Other (Other)') AS ServiceSubcategory,
    CASE WHEN charge_category IN ('Usage', 'Purchase') THEN NULLIF(sku_id, '') END AS SkuId,
    CASE WHEN charge_category IN ('Usage', 'Purchase') AND NULLIF(sku_id, '') IS NOT NULL
         THEN NULLIF(sku_description, '') END AS SkuMeter,
    NULL AS SkuPriceDetails,
    CASE WHEN charge_category IN ('Usage', 'Purchase') THEN NULLIF(sku_id, '') END AS SkuPriceId,
    NULLIF(project_id, '') AS SubAccountId,
    NULLIF(project_name, '') AS SubAccountName,
    CASE WHEN NULLIF(project_id, '') IS NOT NULL THEN 'Project' END AS SubAccountType,
    CASE WHEN size(tag_list) > 0 THEN to_json(map_from_entries(transform(tag_list, t -> named_struct('key', t.k, 'value', t.v))))
    END AS Tags,
    NULL AS x_UsageType,
    CAST(cost_type AS STRING) AS x_CostType,
    to_json(named_struct(
        'cost', cost_d,
        'credits', CASE WHEN size(cr) > 0 THEN cr END,
        'currency_conversion_rate', currency_conversion_rate,
        'invoice_month', invoice_month,
        'export_time', CAST(export_time AS TIMESTAMP)
    ), map('ignoreNullFields', 'false')) AS x_Extensions
FROM tagged
LEFT JOIN cat ON cat.service_description = tagged.service_description
