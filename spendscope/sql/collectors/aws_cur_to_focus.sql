-- AWS Cost and Usage Report (CUR 2.0 or legacy) → FOCUS 1.2 warehouse columns.
-- Grain: one CUR line item → one FOCUS row, except: SavingsPlanNegation rows are dropped (their
-- unblended cost only cancels the covered usage's, which FOCUS bills at 0), and each RIFee /
-- SavingsPlanRecurringFee row becomes a Purchase row plus, when part of the commitment went unused,
-- an Unused commitment row. Σ BilledCost = Σ line_item_unblended_cost (the invoice); Σ EffectiveCost
-- = the amortized cost.
-- Params: $categories (path of reference/aws_service_categories.csv).
-- {cur} is a subquery built in code from the file's columns: every column named below, in CUR 2.0
-- snake_case, NULL where the file lacks it, plus tags_json (JSON object of user tags).
WITH cur AS (
    {cur}
), cat AS (
    SELECT * FROM read_csv($categories, header = true, all_varchar = true)
), typed AS (
    SELECT
        cur.*,
        CAST(line_item_unblended_cost AS DECIMAL(38, 12)) AS unblended,
        CAST(pricing_public_on_demand_cost AS DECIMAL(38, 12)) AS on_demand,
        NULLIF(CAST(reservation_reservation_a_r_n AS VARCHAR), '') AS ri_arn,
        NULLIF(CAST(savings_plan_savings_plan_a_r_n AS VARCHAR), '') AS sp_arn,
        CASE
            WHEN line_item_line_item_type = 'RIFee' THEN
                coalesce(CAST(reservation_unused_amortized_upfront_fee_for_billing_period AS DECIMAL(38, 12)), 0)
                + coalesce(CAST(reservation_unused_recurring_fee AS DECIMAL(38, 12)), 0)
            WHEN line_item_line_item_type = 'SavingsPlanRecurringFee' THEN
                coalesce(CAST(savings_plan_total_commitment_to_date AS DECIMAL(38, 12)), 0)
                - coalesce(CAST(savings_plan_used_commitment AS DECIMAL(38, 12)), 0)
        END AS unused_commitment,
        CASE
            WHEN line_item_line_item_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') THEN 'Usage'
            WHEN line_item_line_item_type IN ('Fee', 'RIFee', 'SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee')
                THEN 'Purchase'
            WHEN line_item_line_item_type = 'Tax' THEN 'Tax'
            WHEN line_item_line_item_type IN ('Credit', 'Refund', 'BundledDiscount', 'Discount', 'EdpDiscount',
                                              'PrivateRateDiscount', 'RiVolumeDiscount', 'DistributorDiscount')
                THEN 'Credit'
            ELSE 'Adjustment'
        END AS charge_category,
        CASE
            WHEN pricing_unit IN ('Hrs', 'Hour', 'Hours') THEN 'Hours'
            WHEN pricing_unit IN ('GB-Mo', 'GB-Month', 'GB-Months') THEN 'GB-Months'
            WHEN pricing_unit IN ('Requests', 'Request') THEN 'Requests'
            WHEN pricing_unit = 'GB' THEN 'GB'
            ELSE NULLIF(CAST(pricing_unit AS VARCHAR), '')
        END AS focus_unit
    FROM cur
    WHERE line_item_line_item_type IS DISTINCT FROM 'SavingsPlanNegation'
), rows AS (
    -- every kept line item; RIFee / SavingsPlanRecurringFee are the Purchase rows (EffectiveCost 0)
    SELECT
        typed.*,
        'main' AS part,
        unblended AS billed,
        CASE
            WHEN line_item_line_item_type = 'SavingsPlanCoveredUsage'
                THEN CAST(savings_plan_savings_plan_effective_cost AS DECIMAL(38, 12))
            WHEN line_item_line_item_type = 'DiscountedUsage' THEN CAST(reservation_effective_cost AS DECIMAL(38, 12))
            WHEN line_item_line_item_type IN ('RIFee', 'SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee') THEN 0
            WHEN line_item_line_item_type = 'Fee' AND ri_arn IS NOT NULL THEN 0  -- RI upfront: amortized on usage
            ELSE unblended
        END AS effective
    FROM typed
    UNION ALL
    -- the unused part of a commitment in this period: billed in the fee above, effective here
    SELECT typed.*, 'unused' AS part, 0 AS billed, unused_commitment AS effective
    FROM typed
    WHERE line_item_line_item_type IN ('RIFee', 'SavingsPlanRecurringFee') AND unused_commitment > 0
)
SELECT
    NULLIF(CAST(line_item_availability_zone AS VARCHAR), '') AS AvailabilityZone,
    -- Savings-plan-covered usage is billed through the plan's fee: its unblended cost is cancelled
    -- by the (dropped) SavingsPlanNegation row.
    CASE WHEN line_item_line_item_type = 'SavingsPlanCoveredUsage' THEN 0 ELSE billed END AS BilledCost,
    CAST(bill_payer_account_id AS VARCHAR) AS BillingAccountId,
    NULLIF(CAST(bill_payer_account_name AS VARCHAR), '') AS BillingAccountName,
    'Payer Account' AS BillingAccountType,
    CAST(line_item_currency_code AS VARCHAR) AS BillingCurrency,
    CAST(bill_billing_period_end_date AS TIMESTAMPTZ) AS BillingPeriodEnd,
    CAST(bill_billing_period_start_date AS TIMESTAMPTZ) AS BillingPeriodStart,
    CASE WHEN part = 'unused' THEN 'Usage' ELSE charge_category END AS ChargeCategory,
    NULL AS ChargeClass,
    NULLIF(CAST(line_item_line_item_description AS VARCHAR), '') AS ChargeDescription,
    CASE
        WHEN charge_category = 'Usage' OR part = 'unused' THEN 'Usage-Based'
        WHEN line_item_line_item_type IN ('RIFee', 'SavingsPlanRecurringFee') THEN 'Recurring'
        WHEN charge_category = 'Tax' THEN 'Recurring'
        ELSE 'One-Time'
    END AS ChargeFrequency,
    CAST(line_item_usage_end_date AS TIMESTAMPTZ) AS ChargePeriodEnd,
    CAST(line_item_usage_start_date AS TIMESTAMPTZ) AS ChargePeriodStart,
    CASE WHEN ri_arn IS NOT NULL THEN 'Usage' WHEN sp_arn IS NOT NULL THEN 'Spend' END AS CommitmentDiscountCategory,
    coalesce(ri_arn, sp_arn) AS CommitmentDiscountId,
    NULL AS CommitmentDiscountName,
    NULL AS CommitmentDiscountQuantity,
    CASE
        WHEN part = 'unused' THEN 'Unused'
        WHEN line_item_line_item_type IN ('DiscountedUsage', 'SavingsPlanCoveredUsage') THEN 'Used'
    END AS CommitmentDiscountStatus,
    CASE WHEN ri_arn IS NOT NULL THEN 'Reserved Instance' WHEN sp_arn IS NOT NULL THEN 'Savings Plan' END
        AS CommitmentDiscountType,
    NULL AS CommitmentDiscountUnit,
    CASE WHEN charge_category = 'Usage' AND part = 'main' THEN CAST(line_item_usage_amount AS DECIMAL(38, 12)) END
        AS ConsumedQuantity,
    CASE WHEN charge_category = 'Usage' AND part = 'main' THEN focus_unit END AS ConsumedUnit,
    CASE
        WHEN charge_category IN ('Tax', 'Credit', 'Adjustment', 'Purchase') OR part = 'unused' THEN
            CASE WHEN part = 'unused' THEN 0 ELSE billed END
        WHEN line_item_line_item_type = 'SavingsPlanCoveredUsage' THEN unblended
        ELSE coalesce(on_demand, unblended)
    END AS ContractedCost,
    NULL AS ContractedUnitPrice,
    effective AS EffectiveCost,
    NULLIF(CAST(bill_invoice_id AS VARCHAR), '') AS InvoiceId,
    coalesce(NULLIF(CAST(bill_invoicing_entity AS VARCHAR), ''), 'AWS') AS InvoiceIssuerName,
    CASE
        WHEN charge_category IN ('Tax', 'Credit', 'Adjustment', 'Purchase') OR part = 'unused' THEN
            CASE WHEN part = 'unused' THEN 0 ELSE billed END
        ELSE coalesce(on_demand, unblended)
    END AS ListCost,
    NULL AS ListUnitPrice,
    CASE
        WHEN charge_category IN ('Tax', 'Credit', 'Adjustment') THEN NULL
        WHEN part = 'unused' OR line_item_line_item_type IN ('DiscountedUsage', 'SavingsPlanCoveredUsage')
            THEN 'Committed'
        WHEN pricing_term = 'Spot' THEN 'Dynamic'
        ELSE 'Standard'
    END AS PricingCategory,
    coalesce(NULLIF(CAST(pricing_currency AS VARCHAR), ''), CAST(line_item_currency_code AS VARCHAR))
        AS PricingCurrency,
    NULL AS PricingCurrencyContractedUnitPrice,
    effective AS PricingCurrencyEffectiveCost,
    NULL AS PricingCurrencyListUnitPrice,
    CASE WHEN charge_category IN ('Usage', 'Purchase') AND part = 'main'
         THEN CAST(line_item_usage_amount AS DECIMAL(38, 12)) END AS PricingQuantity,
    CASE WHEN charge_category IN ('Usage', 'Purchase') AND part = 'main' THEN focus_unit END AS PricingUnit,
    'AWS' AS ProviderName,
    CASE WHEN bill_billing_entity = 'AWS Marketplace' THEN coalesce(product_product_name, 'AWS Marketplace')
         ELSE 'AWS' END AS PublisherName,
    NULLIF(CAST(product_region_code AS VARCHAR), '') AS RegionId,
    CASE WHEN NULLIF(CAST(product_region_code AS VARCHAR), '') IS NOT NULL
         THEN coalesce(NULLIF(CAST(product_location AS VARCHAR), ''), CAST(product_region_code AS VARCHAR)) END
        AS RegionName,
    CASE WHEN part = 'unused' OR line_item_line_item_type IN ('RIFee', 'SavingsPlanRecurringFee')
         THEN coalesce(ri_arn, sp_arn)
         ELSE NULLIF(CAST(line_item_resource_id AS VARCHAR), '') END AS ResourceId,
    NULL AS ResourceName,
    CASE
        WHEN part = 'unused' OR line_item_line_item_type IN ('RIFee', 'SavingsPlanRecurringFee')
            THEN CASE WHEN ri_arn IS NOT NULL THEN 'Reserved Instance' ELSE 'Savings Plan' END
        WHEN NULLIF(CAST(line_item_resource_id AS VARCHAR), '') IS NOT NULL
            THEN coalesce(NULLIF(CAST(product_product_family AS VARCHAR), ''), CAST(line_item_product_code AS VARCHAR))
    END AS ResourceType,
    coalesce(cat.ServiceCategory, 'Other') AS ServiceCategory,
    coalesce(NULLIF(CAST(product_product_name AS VARCHAR), ''), CAST(line_item_product_code AS VARCHAR))
        AS ServiceName,
    coalesce(cat.ServiceSubcategory, 'Other (Other)') AS ServiceSubcategory,
    CASE WHEN charge_category IN ('Usage', 'Purchase') THEN NULLIF(CAST(product_sku AS VARCHAR), '') END AS SkuId,
    CASE WHEN charge_category IN ('Usage', 'Purchase') AND NULLIF(CAST(product_sku AS VARCHAR), '') IS NOT NULL
         THEN NULLIF(CAST(line_item_usage_type AS VARCHAR), '') END AS SkuMeter,  -- FOCUS: null when SkuId is
    NULL AS SkuPriceDetails,
    NULL AS SkuPriceId,
    CAST(line_item_usage_account_id AS VARCHAR) AS SubAccountId,
    NULLIF(CAST(line_item_usage_account_name AS VARCHAR), '') AS SubAccountName,
    'Linked Account' AS SubAccountType,
    CASE WHEN tags_json IS NOT NULL AND CAST(tags_json AS VARCHAR) <> '{}' THEN tags_json END AS Tags,
    NULLIF(CAST(line_item_usage_type AS VARCHAR), '') AS x_UsageType,
    NULLIF(CAST(line_item_operation AS VARCHAR), '') AS x_Operation,
    CAST(line_item_line_item_type AS VARCHAR) AS x_CostType
FROM rows
LEFT JOIN cat ON cat.product_code = rows.line_item_product_code
