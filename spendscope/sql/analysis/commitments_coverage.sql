-- Commitment-eligible usage and its covered part, for commitments.commitment_coverage.
-- Grain: (billing_period_start, ProviderName, BillingAccountId, SubAccountId, RegionId, ServiceName,
-- BillingCurrency). Params: $period_start (TIMESTAMPTZ, or NULL for every period).
-- Eligible: a Usage row that is not an Unused commitment row, whose (ProviderName, ServiceName,
-- ResourceType) had commitment-covered usage (CommitmentDiscountStatus 'Used') in the same billing
-- period: what a commitment of that kind could have covered. Covered: the eligible rows with status
-- 'Used' (counted whole, also where a commitment covers part of a row). On-demand equivalent:
-- ListCost, or ContractedCost where ListCost is NULL (a row with neither adds nothing).
-- unused_commitment_cost: EffectiveCost of the Unused commitment rows attributed to the group.
WITH usage AS (
    -- Pre-aggregated to the grain below plus ResourceType and status, so the join sees few rows.
    SELECT BillingPeriodStart, ProviderName, BillingAccountId, SubAccountId, RegionId, ServiceName, ResourceType,
           BillingCurrency, CommitmentDiscountStatus, sum(EffectiveCost) AS EffectiveCost,
           sum(coalesce(ListCost, ContractedCost)) AS on_demand
    FROM billing
    WHERE ChargeCategory = 'Usage'
      AND ($period_start IS NULL
           OR (BillingPeriodStart >= $period_start::TIMESTAMPTZ
               AND BillingPeriodStart < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH))
    GROUP BY ALL
), eligible_kinds AS (
    SELECT DISTINCT BillingPeriodStart, ProviderName, ServiceName, ResourceType, TRUE AS eligible
    FROM usage
    WHERE CommitmentDiscountStatus = 'Used'
), marked AS (
    SELECT u.*,
           coalesce(k.eligible, FALSE) AND u.CommitmentDiscountStatus IS DISTINCT FROM 'Unused' AS eligible,
           u.CommitmentDiscountStatus IS NOT DISTINCT FROM 'Unused' AS unused
    FROM usage u
    LEFT JOIN eligible_kinds k
      ON k.BillingPeriodStart = u.BillingPeriodStart
     AND k.ProviderName IS NOT DISTINCT FROM u.ProviderName
     AND k.ServiceName IS NOT DISTINCT FROM u.ServiceName
     AND k.ResourceType IS NOT DISTINCT FROM u.ResourceType
)
SELECT BillingPeriodStart AS billing_period_start,
       ProviderName,
       BillingAccountId,
       SubAccountId,
       RegionId,
       ServiceName,
       BillingCurrency,
       coalesce(sum(on_demand) FILTER (WHERE eligible), 0) AS eligible_on_demand_cost,
       coalesce(sum(on_demand) FILTER (WHERE eligible AND CommitmentDiscountStatus = 'Used'), 0)
           AS covered_on_demand_cost,
       coalesce(sum(EffectiveCost) FILTER (WHERE eligible), 0) AS eligible_effective_cost,
       coalesce(sum(EffectiveCost) FILTER (WHERE unused), 0) AS unused_commitment_cost
FROM marked
WHERE eligible OR unused
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1, 2, 3, 4, 5, 6, 7
