-- Cost by allocation dimensions over a range of days, from the materialized allocation (allocated_daily
-- of the latest `analyze`), for `GET /api/v1/costs`. Grain: ({dimensions}, currency): money is never summed
-- across currencies. Params: $from (DATE, inclusive), $to (DATE, exclusive), $limit (BIGINT).
-- {dimensions} is built in code from a fixed map of allocated_daily columns (spendscope.service.api), never
-- from request text.
SELECT {dimensions},
       currency,
       sum(BilledCost) AS BilledCost,
       sum(EffectiveCost) AS EffectiveCost
FROM allocated_daily
WHERE day >= $from AND day < $to
GROUP BY ALL
ORDER BY currency, EffectiveCost DESC NULLS LAST
LIMIT $limit
