-- Breakdown of the anomalous team series only, for their drivers: cost per service, account and region
-- per day over each anomaly's window (allocated_daily has no resource grain). FOCUS column names.
-- Grain: (anomaly_id, day, ServiceName, SubAccountId, RegionId).
-- Reads the registered frame anomaly_windows (anomaly_id, team, currency, first_day, last_day: DATE).
SELECT w.anomaly_id,
       a.day,
       a.service AS ServiceName,
       a.sub_account AS SubAccountId,
       a.region AS RegionId,
       sum(a.EffectiveCost) AS cost
FROM allocated_daily AS a
JOIN anomaly_windows AS w
  ON a.team = w.team
 AND a.currency = w.currency
 AND a.day BETWEEN w.first_day AND w.last_day
GROUP BY ALL
