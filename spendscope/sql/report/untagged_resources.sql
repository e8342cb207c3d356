-- The resources with the most untagged + mistagged EffectiveCost in the period (untagged_resources,
-- ranked by the untagged run), per currency, the top $limit. Grain: one row per (currency, ResourceId).
-- Params: $period_start (TIMESTAMPTZ, first instant of the month, UTC), $limit (INTEGER).
SELECT rank,
       ResourceId,
       array_to_string(SubAccountIds, ', ') AS accounts,
       array_to_string(ServiceNames, ', ') AS services,
       array_to_string(statuses, ', ') AS statuses,
       currency,
       noncompliant_cost
FROM untagged_resources
WHERE billing_period_start >= $period_start::TIMESTAMPTZ
  AND billing_period_start < $period_start::TIMESTAMPTZ + INTERVAL 1 MONTH
  AND rank <= $limit
ORDER BY currency, rank
