-- The rows of each commitment discount, summed per billing period, for commitments.commitment_utilization.
-- Grain: (billing_period_start, ProviderName, CommitmentDiscountId, BillingCurrency).
-- Params: $period_start (TIMESTAMPTZ, or NULL for every period).
-- A commitment's rows: every row with its CommitmentDiscountId, plus Purchase rows without one whose
-- ResourceId is a commitment id of the same provider (the GCP billing export names the commitment only
-- there). part: purchase (ChargeCategory Purchase), used / unused (CommitmentDiscountStatus), else NULL
-- (e.g. a refund: it counts in committed_cost only). Owner columns come from the Purchase row, else an
-- Unused row, else a Used row. Quantities: CommitmentDiscountQuantity in CommitmentDiscountUnit; a
-- Purchase row without one falls back to PricingQuantity in PricingUnit.
WITH ids AS (
    SELECT DISTINCT ProviderName, CommitmentDiscountId FROM billing WHERE CommitmentDiscountId IS NOT NULL
), scoped AS (
    SELECT * FROM billing
    WHERE $period_start IS NULL
       OR (BillingPeriodStart >= $period_start::TIMESTAMPTZ
           AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH)
), member AS (
    SELECT *, CommitmentDiscountId AS commitment_id FROM scoped WHERE CommitmentDiscountId IS NOT NULL
    UNION ALL
    SELECT s.*, s.ResourceId AS commitment_id
    FROM scoped s
    JOIN ids ON ids.ProviderName IS NOT DISTINCT FROM s.ProviderName AND ids.CommitmentDiscountId = s.ResourceId
    WHERE s.CommitmentDiscountId IS NULL AND s.ChargeCategory = 'Purchase'
), parts AS (
    SELECT *,
           CASE WHEN ChargeCategory = 'Purchase' THEN 'purchase'
                WHEN CommitmentDiscountStatus = 'Used' THEN 'used'
                WHEN CommitmentDiscountStatus = 'Unused' THEN 'unused' END AS part,
           CASE WHEN ChargeCategory = 'Purchase' THEN 0 WHEN CommitmentDiscountStatus = 'Unused' THEN 1 ELSE 2 END
               AS owner_rank,
           coalesce(CommitmentDiscountQuantity, PricingQuantity) AS purchase_qty,
           CASE WHEN CommitmentDiscountQuantity IS NOT NULL THEN CommitmentDiscountUnit ELSE PricingUnit END
               AS purchase_unit
    FROM member
)
SELECT BillingPeriodStart AS billing_period_start,
       ProviderName,
       commitment_id AS CommitmentDiscountId,
       BillingCurrency,
       arg_min(BillingAccountId, owner_rank) AS BillingAccountId,
       arg_min(SubAccountId, owner_rank) AS SubAccountId,
       arg_min(RegionId, owner_rank) AS RegionId,
       arg_min(ServiceName, owner_rank) AS ServiceName,
       any_value(CommitmentDiscountName) AS CommitmentDiscountName,
       any_value(CommitmentDiscountType) AS CommitmentDiscountType,
       any_value(CommitmentDiscountCategory) AS CommitmentDiscountCategory,
       coalesce(sum(BilledCost) FILTER (WHERE part = 'purchase'), 0) AS purchase_cost,
       coalesce(sum(EffectiveCost) FILTER (WHERE part = 'purchase'), 0) AS purchase_effective_cost,
       coalesce(sum(EffectiveCost), 0) AS committed_cost,
       coalesce(sum(EffectiveCost) FILTER (WHERE part = 'used'), 0) AS used_cost,
       coalesce(sum(EffectiveCost) FILTER (WHERE part = 'unused'), 0) AS unused_cost,
       coalesce(sum(coalesce(ListCost, ContractedCost)) FILTER (WHERE part = 'used'), 0) AS covered_on_demand_cost,
       count(*) FILTER (WHERE part = 'purchase') AS purchase_rows,
       count(*) FILTER (WHERE part IN ('used', 'unused')) AS usage_rows,
       count(*) FILTER (WHERE part = 'unused') AS unused_rows,
       count(CommitmentDiscountQuantity) FILTER (WHERE part IN ('used', 'unused')) AS quantity_rows,
       count(DISTINCT CommitmentDiscountUnit) FILTER (WHERE part IN ('used', 'unused')) AS usage_units,
       any_value(CommitmentDiscountUnit) FILTER (WHERE part IN ('used', 'unused')) AS usage_unit,
       sum(CommitmentDiscountQuantity) FILTER (WHERE part = 'used') AS used_quantity,
       sum(CommitmentDiscountQuantity) FILTER (WHERE part = 'unused') AS unused_quantity,
       count(purchase_qty) FILTER (WHERE part = 'purchase') AS purchase_quantity_rows,
       count(DISTINCT purchase_unit) FILTER (WHERE part = 'purchase') AS purchase_units,
       any_value(purchase_unit) FILTER (WHERE part = 'purchase') AS purchase_unit,
       sum(purchase_qty) FILTER (WHERE part = 'purchase') AS purchase_quantity
FROM parts
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
