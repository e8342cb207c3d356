-- Azure Cost Management cost details (an EA or MCA actual or amortized export file) → FOCUS 1.2 rows.
-- Follows Microsoft's "Convert Cost Management data to FOCUS" (FinOps toolkit docs, Microsoft Learn:
-- https://learn.microsoft.com/cloud-computing/finops/focus/convert): "Keep all rows from the amortized
-- cost data. Filter the actual cost data to only include rows where ChargeType == Purchase or Refund
-- and PricingModel == Reservation or SavingsPlan"; BilledCost 0 on commitment-covered usage,
-- EffectiveCost 0 on those commitment purchases and refunds. Unused commitment rows exist only in
-- amortized data and bill 0: "Validate FOCUS data" (same site) maps BilledCost to the actual cost and
-- EffectiveCost to the amortized cost, so Σ BilledCost = Σ actual CostInBillingCurrency and
-- Σ EffectiveCost = Σ amortized CostInBillingCurrency, each row counted once.
-- Where this departs from the guide's table, FOCUS 1.2 decides: a commitment purchase is priced
-- Standard (PricingCategory: "Committed when the charge is subject to an existing commitment discount
-- and is not the purchase of the commitment discount"); a Frequency outside OneTime/Recurring/UsageBased
-- gets Usage-Based or One-Time, not the disallowed "Other"; EA has no ProductId, so SkuId is the MeterId;
-- PricingUnit keeps the pricing block ("10000 Requests") so unit price × PricingQuantity = cost without
-- x_PricingBlockSize; corrections carry no CommitmentDiscountQuantity (the spec's MAY).
-- Grain: one cost details row → one FOCUS row, or none when the row belongs to the other dataset.
-- Params: $role — 'amortized' (an amortized file: every row except commitment purchases/refunds,
--   which the actual file carries), 'actual_purchases' (an actual file beside an amortized one: only
--   those rows), 'actual' (an actual file with no amortized one: every row, EffectiveCost =
--   CostInBillingCurrency, nothing amortized); $agreement — 'EA' or 'MCA'; $categories — path of
--   reference/azure_service_categories.csv.
-- {cost} is a subquery built in code from the file's columns: every column named in `cost` below,
-- VARCHAR, NULL where the file lacks it (EA and MCA names mapped to these in exports_plan.py).
WITH cost AS (
    {cost}
), cat AS (
    SELECT lower(meter_category) AS cat_meter_category, lower(consumed_service) AS cat_consumed_service,
           ServiceName, ServiceCategory, ServiceSubcategory
    FROM read_csv($categories, header = true, all_varchar = true)
), parsed AS (
    SELECT
        cost.*,
        CAST(cost.cost AS DECIMAL(38, 12)) AS amount,
        CAST(quantity AS DECIMAL(38, 12)) AS qty,
        CAST(unit_price AS DECIMAL(38, 12)) AS unit_price_n,
        CAST(payg_price AS DECIMAL(38, 12)) AS payg_price_n,
        CAST(payg_cost AS DECIMAL(38, 12)) AS payg_cost_n,
        CAST(cost_in_pricing_currency AS DECIMAL(38, 12)) AS cost_pricing_n,
        CASE WHEN $agreement = 'MCA' THEN coalesce(CAST(exchange_rate AS DECIMAL(38, 12)), 1) ELSE 1 END AS rate,
        -- Cost Management writes dates as MM/DD/YYYY (older exports) or ISO 8601.
        CASE WHEN regexp_matches(charge_date, '^\d{1,2}/\d{1,2}/\d{4}')
             THEN CAST(strptime(split_part(charge_date, ' ', 1), '%m/%d/%Y') AS TIMESTAMPTZ)
             ELSE CAST(charge_date AS TIMESTAMPTZ) END AS charge_day,
        CASE WHEN regexp_matches(billing_period_start, '^\d{1,2}/\d{1,2}/\d{4}')
             THEN CAST(strptime(split_part(billing_period_start, ' ', 1), '%m/%d/%Y') AS TIMESTAMPTZ)
             ELSE CAST(billing_period_start AS TIMESTAMPTZ) END AS period_start,
        CASE WHEN regexp_matches(billing_period_end, '^\d{1,2}/\d{1,2}/\d{4}')
             THEN CAST(strptime(split_part(billing_period_end, ' ', 1), '%m/%d/%Y') AS TIMESTAMPTZ)
             ELSE CAST(billing_period_end AS TIMESTAMPTZ) END AS period_end_inclusive,
        lower(regexp_replace(coalesce(charge_type, 'Usage'), '[^A-Za-z]', '', 'g')) AS ct,
        lower(regexp_replace(coalesce(pricing_model, ''), '[^A-Za-z]', '', 'g')) AS pm,
        lower(regexp_replace(coalesce(frequency, ''), '[^A-Za-z]', '', 'g')) AS freq,
        coalesce(benefit_id, reservation_id) AS benefit,
        -- UnitOfMeasure "10K Requests" → block 10000 of "Requests"; "1 Hour" → 1 of "Hours".
        trim(coalesce(unit_of_measure, '')) AS uom,
        CASE WHEN tags IS NULL OR trim(tags) = '' THEN NULL
             WHEN starts_with(trim(tags), '{') THEN trim(tags)
             ELSE '{' || trim(tags) || '}' END AS tags_text  -- Azure's tag JSON often lacks its braces
    FROM cost
), units AS (
    SELECT
        parsed.*,
        coalesce(TRY_CAST(regexp_extract(uom, '^([0-9]+(\.[0-9]+)?)', 1) AS DECIMAL(38, 12)), 1)
            * CASE upper(regexp_extract(uom, '^[0-9.]+\s*([KkMm])(\s|$)', 1)) WHEN 'K' THEN 1000
                   WHEN 'M' THEN 1000000 ELSE 1 END AS block,
        lower(trim(regexp_replace(uom, '^[0-9.]+\s*([KkMm](\s|$))?', ''))) AS unit_word,
        ct IN ('purchase', 'refund') AND pm IN ('reservation', 'savingsplan') AS commitment_purchase,
        ct IN ('unusedreservation', 'unusedsavingsplan') AS unused,
        benefit IS NOT NULL
            AND (pm IN ('reservation', 'savingsplan') OR ct IN ('unusedreservation', 'unusedsavingsplan'))
            AS has_commitment
    FROM parsed
), kept AS (
    SELECT
        units.*,
        CASE
            WHEN unit_word IN ('', 'unit', 'units') THEN 'Units'
            WHEN unit_word IN ('hour', 'hours', '/hour') THEN 'Hours'
            WHEN unit_word IN ('day', 'days', '/day') THEN 'Days'
            WHEN unit_word IN ('month', 'months', '/month') THEN 'Months'
            WHEN unit_word IN ('gb/month', 'gb-month', 'gb-months', 'gb month') THEN 'GB-Months'
            WHEN unit_word IN ('gib/month', 'gib-month', 'gib-months', 'gib month') THEN 'GiB-Months'
            WHEN unit_word IN ('tb/month', 'tb-month', 'tb-months') THEN 'TB-Months'
            WHEN unit_word = 'gb' THEN 'GB'
            WHEN unit_word = 'gib' THEN 'GiB'
            WHEN unit_word = 'tb' THEN 'TB'
            WHEN unit_word IN ('gb second', 'gb seconds', 'gb-second', 'gb-seconds', 'gb-s') THEN 'GB-Seconds'
            WHEN unit_word IN ('request', 'requests', 'transaction', 'transactions', 'operation', 'operations',
                               'api calls', 'execution', 'executions') THEN 'Requests'
            WHEN unit_word IN ('token', 'tokens') THEN 'Tokens'
            ELSE trim(regexp_replace(uom, '^[0-9.]+\s*([KkMm](\s|$))?', ''))
        END AS unit_name,
        CASE
            WHEN ct = 'usage' OR unused THEN 'Usage'
            WHEN ct IN ('purchase', 'refund') THEN 'Purchase'
            WHEN ct = 'tax' THEN 'Tax'
            WHEN ct = 'credit' THEN 'Credit'
            ELSE 'Adjustment'
        END AS category,
        CASE WHEN benefit IS NULL THEN NULL
             WHEN contains(lower(benefit), '/microsoft.capacity/') THEN 'Reservation'
             WHEN contains(lower(benefit), '/microsoft.billingbenefits/') THEN 'Savings Plan'
             WHEN pm = 'reservation' OR ct = 'unusedreservation' THEN 'Reservation'
             WHEN pm = 'savingsplan' OR ct = 'unusedsavingsplan' THEN 'Savings Plan'
        END AS commitment_type
    FROM units
    WHERE CASE $role
        WHEN 'actual_purchases' THEN commitment_purchase
        WHEN 'amortized' THEN NOT commitment_purchase  -- the actual file carries these
        ELSE true
    END
), money AS (
    SELECT
        kept.*,
        category IN ('Usage', 'Purchase') AS priced,
        CASE WHEN block = 1 THEN qty ELSE CAST(round(CAST(qty AS DOUBLE) / CAST(block AS DOUBLE), 12)
             AS DECIMAL(38, 12)) END AS pricing_qty,
        CASE WHEN block = 1 THEN unit_name ELSE CAST(CAST(block AS BIGINT) AS VARCHAR) || ' ' || unit_name END
            AS pricing_unit,
        CASE
            WHEN unused THEN 0  -- only in amortized data; the purchase carries the invoiced amount
            WHEN $role = 'amortized' AND ct = 'usage' AND pm IN ('reservation', 'savingsplan') THEN 0
            ELSE amount
        END AS billed,
        CASE WHEN $role = 'actual_purchases' THEN 0 ELSE amount END AS effective
    FROM kept
)
SELECT
    NULL AS AvailabilityZone,
    billed AS BilledCost,
    billing_account_id AS BillingAccountId,
    billing_account_name AS BillingAccountName,
    CASE $agreement WHEN 'EA' THEN 'Billing Account' ELSE 'Billing Profile' END AS BillingAccountType,
    billing_currency AS BillingCurrency,
    coalesce(period_end_inclusive + INTERVAL 1 DAY, coalesce(period_start, date_trunc('month', charge_day))
        + INTERVAL 1 MONTH) AS BillingPeriodEnd,
    coalesce(period_start, date_trunc('month', charge_day)) AS BillingPeriodStart,
    NULL AS CapacityReservationId,
    NULL AS CapacityReservationStatus,
    category AS ChargeCategory,
    CASE WHEN ct = 'refund' THEN 'Correction' END AS ChargeClass,
    product_name AS ChargeDescription,
    CASE freq WHEN 'onetime' THEN 'One-Time' WHEN 'recurring' THEN 'Recurring' WHEN 'usagebased' THEN 'Usage-Based'
        ELSE CASE WHEN category = 'Usage' THEN 'Usage-Based' ELSE 'One-Time' END
    END AS ChargeFrequency,
    charge_day + INTERVAL 1 DAY AS ChargePeriodEnd,
    charge_day AS ChargePeriodStart,
    CASE WHEN has_commitment THEN CASE commitment_type WHEN 'Reservation' THEN 'Usage' ELSE 'Spend' END END
        AS CommitmentDiscountCategory,
    CASE WHEN has_commitment THEN benefit END AS CommitmentDiscountId,
    CASE WHEN has_commitment THEN coalesce(benefit_name, reservation_name) END AS CommitmentDiscountName,
    CASE WHEN has_commitment AND category IN ('Usage', 'Purchase') AND ct <> 'refund' THEN  -- null: a correction
        CASE WHEN commitment_type = 'Reservation' THEN pricing_qty
             ELSE CAST(CASE WHEN category = 'Purchase' THEN billed ELSE effective END / rate AS DECIMAL(38, 12)) END
    END AS CommitmentDiscountQuantity,
    CASE WHEN unused THEN 'Unused' WHEN has_commitment AND category = 'Usage' THEN 'Used' END
        AS CommitmentDiscountStatus,
    CASE WHEN has_commitment THEN commitment_type END AS CommitmentDiscountType,
    CASE WHEN has_commitment AND category IN ('Usage', 'Purchase') AND ct <> 'refund' THEN
        CASE WHEN commitment_type = 'Reservation' THEN pricing_unit ELSE coalesce(pricing_currency, billing_currency) END
    END AS CommitmentDiscountUnit,
    CASE WHEN ct = 'usage' THEN qty END AS ConsumedQuantity,
    CASE WHEN ct = 'usage' AND qty IS NOT NULL THEN unit_name END AS ConsumedUnit,
    CASE WHEN priced AND unit_price_n IS NOT NULL AND pricing_qty IS NOT NULL
         THEN CAST(CAST(unit_price_n * rate AS DECIMAL(38, 12)) * pricing_qty AS DECIMAL(38, 12))
         WHEN unused THEN 0 ELSE amount END AS ContractedCost,
    CASE WHEN priced THEN CAST(unit_price_n * rate AS DECIMAL(38, 12)) END AS ContractedUnitPrice,
    effective AS EffectiveCost,
    invoice_id AS InvoiceId,
    coalesce(partner_name, 'Microsoft') AS InvoiceIssuerName,
    CASE WHEN priced AND $agreement = 'MCA' AND payg_cost_n IS NOT NULL THEN payg_cost_n
         WHEN priced AND payg_price_n IS NOT NULL AND pricing_qty IS NOT NULL
         THEN CAST(CAST(payg_price_n * rate AS DECIMAL(38, 12)) * pricing_qty AS DECIMAL(38, 12))
         WHEN unused THEN 0 ELSE amount END AS ListCost,
    CASE WHEN priced THEN CAST(payg_price_n * rate AS DECIMAL(38, 12)) END AS ListUnitPrice,
    CASE
        WHEN category NOT IN ('Usage', 'Purchase') THEN NULL
        WHEN category = 'Purchase' AND has_commitment THEN 'Standard'  -- the purchase is not itself discounted
        WHEN unused OR pm IN ('reservation', 'savingsplan') THEN 'Committed'
        WHEN pm = 'spot' THEN 'Dynamic'
        ELSE 'Standard'
    END AS PricingCategory,
    coalesce(pricing_currency, billing_currency) AS PricingCurrency,
    CASE WHEN priced THEN unit_price_n END AS PricingCurrencyContractedUnitPrice,
    CASE WHEN effective = 0 THEN 0 ELSE coalesce(cost_pricing_n, CAST(effective / rate AS DECIMAL(38, 12))) END
        AS PricingCurrencyEffectiveCost,
    CASE WHEN priced THEN payg_price_n END AS PricingCurrencyListUnitPrice,
    CASE WHEN priced THEN pricing_qty END AS PricingQuantity,
    CASE WHEN priced AND pricing_qty IS NOT NULL THEN pricing_unit END AS PricingUnit,
    'Microsoft' AS ProviderName,
    coalesce(publisher_name, 'Microsoft') AS PublisherName,
    lower(regexp_replace(coalesce(location_normalized, resource_location), '\s', '', 'g')) AS RegionId,
    coalesce(location_normalized, resource_location) AS RegionName,
    CASE WHEN has_commitment AND (category = 'Purchase' OR unused) THEN benefit ELSE resource_id END AS ResourceId,
    CASE WHEN has_commitment AND (category = 'Purchase' OR unused) THEN coalesce(benefit_name, reservation_name)
         ELSE coalesce(resource_name, NULLIF(regexp_extract(resource_id, '([^/]+)/?$', 1), '')) END AS ResourceName,
    CASE WHEN has_commitment AND (category = 'Purchase' OR unused) THEN commitment_type
         ELSE NULLIF(regexp_extract(resource_id, '/providers/([^/]+/[^/]+)', 1), '') END AS ResourceType,
    coalesce(c1.ServiceCategory, c2.ServiceCategory, c3.ServiceCategory, 'Other') AS ServiceCategory,
    coalesce(c1.ServiceName, c2.ServiceName, c3.ServiceName, meter_category, consumed_service, 'Microsoft Azure')
        AS ServiceName,
    coalesce(c1.ServiceSubcategory, c2.ServiceSubcategory, c3.ServiceSubcategory, 'Other (Other)')
        AS ServiceSubcategory,
    CASE WHEN priced THEN coalesce(product_id, meter_id) END AS SkuId,
    CASE WHEN priced AND coalesce(product_id, meter_id) IS NOT NULL THEN coalesce(meter_name, product_name) END
        AS SkuMeter,  -- purchases have no meter name: the product purchased is the meter
    NULL AS SkuPriceDetails,
    NULL AS SkuPriceId,
    subscription_id AS SubAccountId,
    subscription_name AS SubAccountName,
    'Subscription' AS SubAccountType,
    CASE WHEN json_valid(tags_text) THEN
        CASE WHEN json_type(tags_text) = 'OBJECT' AND tags_text <> '{}' THEN CAST(tags_text AS JSON) END END AS Tags,
    resource_group AS x_ResourceGroupName,
    meter_subcategory AS x_UsageType,
    charge_type AS x_CostType,
    -- merge-patching into {} drops the keys whose value is null
    json_merge_patch('{}', json_object(
        'x_CostDataset', CASE $role WHEN 'amortized' THEN 'AmortizedCost' ELSE 'ActualCost' END,
        'x_SkuMeterCategory', meter_category,
        'x_SkuMeterSubcategory', meter_subcategory,
        'x_SkuMeterId', meter_id,
        'x_SkuPartNumber', part_number,
        'x_ConsumedService', consumed_service,
        'x_PricingModel', pricing_model,
        'x_PricingUnitDescription', NULLIF(uom, ''),
        'x_PricingBlockSize', CASE WHEN block <> 1 THEN block END,
        'x_BillingProfileId', billing_profile_id,
        'Tags_unparsed', CASE WHEN NOT json_valid(tags_text) THEN tags
                              WHEN json_type(tags_text) <> 'OBJECT' THEN tags END
    )) AS x_Extensions
FROM money
LEFT JOIN cat c1 ON c1.cat_meter_category = lower(meter_category) AND c1.cat_consumed_service = lower(consumed_service)
LEFT JOIN cat c2 ON c2.cat_meter_category = lower(meter_category) AND c2.cat_consumed_service IS NULL
LEFT JOIN cat c3 ON c3.cat_meter_category IS NULL AND c3.cat_consumed_service = lower(consumed_service)
