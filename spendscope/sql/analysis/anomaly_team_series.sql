-- Daily cost of each team, from the materialized allocation (allocated_daily, all charges and shared
-- splits): the team series spendscope.analysis.anomalies scans. Monthly bookings stay in (allocated_daily
-- has no charge frequency); the detector tolerates a same-day-of-month recurrence.
-- Grain: (team, currency, day); EffectiveCost per currency, never converted.
-- Params: $first_day, $last_day (DATE, inclusive).
SELECT team,
       currency,
       day,
       sum(EffectiveCost) AS cost
FROM allocated_daily
WHERE day BETWEEN $first_day::DATE AND $last_day::DATE
GROUP BY ALL
