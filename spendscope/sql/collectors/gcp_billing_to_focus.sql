-- Google Cloud Billing export to BigQuery (standard gcp_billing_export_v1_* or detailed
-- gcp_billing_export_resource_v1_*, or a Parquet / newline-delimited JSON copy) → FOCUS 1.2 columns.
-- Grain: one export row → one FOCUS row. Credits stay on the row they apply to, as GCP exports them:
--   BilledCost = EffectiveCost = cost + Σ credits[].amount (what the invoice charges for the row; the
--   export carries no amortization, so a commitment's fee is the Purchase row's BilledCost and
--   EffectiveCost, and covered usage costs cost + CUD credit, usually 0).
--   ContractedCost = cost + sustained-use and negotiated DISCOUNT credits; ListCost = cost_at_list
--   (else cost). PROMOTION / FREE_TIER / other credits lower only Billed and Effective cost.
--   A COMMITTED_USAGE_DISCOUNT(_DOLLAR_BASE) credit makes the row commitment-covered usage:
--   CommitmentDiscountId = the credit's id, status Used, category Usage (resource-based) or Spend.
-- Billing period = invoice.month (YYYYMM). cost_type regular → Usage (Purchase for "Commitment"
-- SKUs), tax → Tax, adjustment and rounding_error → Adjustment.
-- Tags: user labels as they are, project labels as "project:<key>", system labels as
-- "system:<key>" (GCP label keys cannot contain ':', so the three never collide).
-- Params: $categories (path of reference/gcp_service_categories.csv).
-- {export} is a subquery built in code from the file's columns: the flat columns named below
-- (service_description, credits, …), NULL where the file lacks an optional field.
WITH export AS (
    {export}
), cat AS (
    SELECT * FROM read_csv($categories, header = true, all_varchar = true)
), credited AS (
    SELECT
        export.*,
        CAST(cost AS DECIMAL(38, 12)) AS cost_d,
        list_transform(coalesce(credits, []), c -> {
            'type': coalesce(c.type, 'UNKNOWN'), 'id': c.id, 'name': c.name, 'amount': CAST(c.amount AS DECIMAL(38, 12))
        }) AS cr
    FROM export
), typed AS (
    SELECT
        credited.*,
        coalesce(list_sum(list_transform(cr, c -> c.amount)), 0) AS credits_total,
        coalesce(list_sum(list_transform(
            list_filter(cr, c -> c.type IN ('SUSTAINED_USAGE_DISCOUNT', 'DISCOUNT')), c -> c.amount)), 0)
            AS negotiated_credits,
        list_filter(cr, c -> c.type IN ('COMMITTED_USAGE_DISCOUNT', 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE'))[1] AS cud,
        coalesce(list_sum(list_transform(list_filter(cr, c -> c.type IN ('COMMITTED_USAGE_DISCOUNT',
            'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE')), c -> c.amount)), 0) AS cud_credits,
        strptime(invoice_month || '01 +0000', '%Y%m%d %z') AS period_start,
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
        list_concat(
            list_transform(coalesce(labels, []), l -> {'k': l.key, 'v': l.value}),
            list_transform(coalesce(project_labels, []), l -> {'k': 'project:' || l.key, 'v': l.value}),
            list_transform(coalesce(system_labels, []), l -> {'k': 'system:' || l.key, 'v': l.value})
        ) AS tag_list
    FROM costed
)
SELECT
    NULLIF(location_zone, '') AS AvailabilityZone,
    billed AS BilledCost,
    CAST(billing_account_id AS VARCHAR) AS BillingAccountId,
    -- the export carries no account name: the id stands in (FOCUS: not null)
    CAST(billing_account_id AS VARCHAR) AS BillingAccountName,
    'Billing Account' AS BillingAccountType,
    CAST(currency AS VARCHAR) AS BillingCurrency,
    period_start + INTERVAL 1 MONTH AS BillingPeriodEnd,
    period_start AS BillingPeriodStart,
    charge_category AS ChargeCategory,
    NULL AS ChargeClass,
    NULLIF(sku_description, '') AS ChargeDescription,
    CASE charge_category WHEN 'Usage' THEN 'Usage-Based' WHEN 'Adjustment' THEN 'One-Time' ELSE 'Recurring' END
        AS ChargeFrequency,
    CAST(usage_end_time AS TIMESTAMPTZ) AS ChargePeriodEnd,
    CAST(usage_start_time AS TIMESTAMPTZ) AS ChargePeriodStart,
    CASE WHEN covered THEN CASE WHEN cud.type = 'COMMITTED_USAGE_DISCOUNT' THEN 'Usage' ELSE 'Spend' END END
        AS CommitmentDiscountCategory,
    CASE WHEN covered THEN cud.id END AS CommitmentDiscountId,
    CASE WHEN covered THEN NULLIF(cud.name, '') END AS CommitmentDiscountName,
    -- the covered share of the usage (Usage CUDs) or of the spend (Spend CUDs, in BillingCurrency)
    CASE WHEN covered AND cud.type = 'COMMITTED_USAGE_DISCOUNT' AND cost_d <> 0 AND pricing_qty IS NOT NULL
             THEN CAST(pricing_qty * least(-cud_credits / cost_d, 1) AS DECIMAL(38, 12))
         WHEN covered AND cud.type <> 'COMMITTED_USAGE_DISCOUNT' THEN -cud_credits END AS CommitmentDiscountQuantity,
    CASE WHEN covered THEN 'Used' END AS CommitmentDiscountStatus,
    CASE WHEN covered THEN 'Committed Use Discount' END AS CommitmentDiscountType,
    CASE WHEN covered THEN CASE WHEN cud.type = 'COMMITTED_USAGE_DISCOUNT' THEN focus_unit ELSE CAST(currency AS VARCHAR) END END
        AS CommitmentDiscountUnit,
    CASE WHEN charge_category = 'Usage' THEN pricing_qty END AS ConsumedQuantity,
    CASE WHEN charge_category = 'Usage' AND pricing_qty IS NOT NULL THEN focus_unit END AS ConsumedUnit,
    contracted_cost AS ContractedCost,
    CASE WHEN priced THEN CAST(contracted_cost / pricing_qty AS DECIMAL(38, 12)) END AS ContractedUnitPrice,
    billed AS EffectiveCost,
    NULL AS InvoiceId,
    'Google Cloud' AS InvoiceIssuerName,
    list_cost AS ListCost,
    CASE WHEN priced THEN CAST(list_cost / pricing_qty AS DECIMAL(38, 12)) END AS ListUnitPrice,
    CASE WHEN charge_category NOT IN ('Usage', 'Purchase') THEN NULL
         WHEN covered THEN 'Committed' ELSE 'Standard' END AS PricingCategory,
    CAST(currency AS VARCHAR) AS PricingCurrency,
    CASE WHEN priced THEN CAST(contracted_cost / pricing_qty AS DECIMAL(38, 12)) END
        AS PricingCurrencyContractedUnitPrice,
    billed AS PricingCurrencyEffectiveCost,
    CASE WHEN priced THEN CAST(list_cost / pricing_qty AS DECIMAL(38, 12)) END AS PricingCurrencyListUnitPrice,
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
    CASE WHEN len(tag_list) > 0 THEN to_json(map_from_entries(list_transform(tag_list, t -> {'key': t.k, 'value': t.v})))
    END AS Tags,
    NULL AS x_UsageType,
    CAST(cost_type AS VARCHAR) AS x_CostType,
    json_object(
        'cost', cost_d,
        'credits', CASE WHEN len(cr) > 0 THEN to_json(cr) END,
        'currency_conversion_rate', currency_conversion_rate,
        'invoice_month', invoice_month,
        'export_time', CAST(export_time AS TIMESTAMPTZ)
    ) AS x_Extensions
FROM tagged
LEFT JOIN cat ON cat.service_description = tagged.service_description
