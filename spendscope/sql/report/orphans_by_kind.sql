-- Orphaned resources of the latest orphans run (findings kind 'orphan'; a current state, not a
-- month's): count and monthly waste per orphan kind, provider, account and currency, largest first.
-- Waste is the billed cost of the last full period, or a list-price estimate (details.cost_source).
-- Grain: one row per (kind, provider, account, currency). Params: none.
SELECT dimensions ->> 'orphan_kind' AS kind,
       provider AS ProviderName,
       account_id AS SubAccountId,
       currency,
       count(*) AS resources,
       sum(monthly_cost) AS monthly_waste
FROM findings
WHERE kind = 'orphan'
GROUP BY ALL
ORDER BY currency NULLS LAST, monthly_waste DESC NULLS LAST, kind, ProviderName, SubAccountId
