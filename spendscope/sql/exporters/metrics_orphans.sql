-- Monthly waste of orphaned resources per provider, account, orphan kind and currency (findings of
-- the latest orphans run).
SELECT provider,
       account_id AS account,
       dimensions ->> 'orphan_kind' AS kind,
       currency,
       sum(monthly_cost) AS monthly_waste,
       count(*) AS resources
FROM findings
WHERE kind = 'orphan'
GROUP BY ALL
