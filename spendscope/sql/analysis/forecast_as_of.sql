-- The default as_of of a forecast (spendscope.analysis.forecast): the day after the latest complete day.
-- A day is complete when billing has a row of at most one day's charge period ending at or after the
-- next UTC midnight (month-level rows, whose charge period runs to the month's end, do not count) and
-- allocated_daily already has it (a stale allocation would otherwise read as no spend).
-- Grain: one row, as_of DATE (NULL when either table is empty). No params.
SELECT CASE
           WHEN b.as_of IS NOT NULL AND a.as_of IS NOT NULL THEN least(b.as_of, a.as_of)
       END AS as_of
FROM (
    SELECT CAST(timezone('UTC', max(ChargePeriodEnd)) AS DATE) AS as_of
    FROM billing
    WHERE ChargePeriodEnd - ChargePeriodStart <= INTERVAL 1 DAY
) AS b,
(SELECT max(day) + 1 AS as_of FROM allocated_daily) AS a
