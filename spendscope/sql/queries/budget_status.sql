-- Budget status of the latest forecast run (spendscope budgets). Grain: one row per budget;
-- over first, then at_risk, ok and no_data, each by name.
SELECT * EXCLUDE (run_id)
FROM budget_status
ORDER BY CASE status WHEN 'over' THEN 0 WHEN 'at_risk' THEN 1 WHEN 'ok' THEN 2 ELSE 3 END, name
