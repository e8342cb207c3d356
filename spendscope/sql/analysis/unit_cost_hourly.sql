-- Cost per service per UTC hour, for cost per transaction (spendscope.analysis.unit_cost).
-- Grain: (ProviderName, service tag value, environment tag value, BillingCurrency, hour); money summed
-- per BillingCurrency, never across. Charges without a service tag value are left out.
-- A charge covering several hours (daily or monthly grain) is spread evenly over the hours from the
-- hour of its ChargePeriodStart up to its ChargePeriodEnd; the rounding remainder goes to its last
-- hour, so the hours of a charge sum exactly to it. Day and month windows are sums of these hours.
-- Params: $service_keys, $environment_keys (VARCHAR[], lower case: the first key, matched ignoring
-- case, whose value is not empty after trimming wins; values trimmed, not folded; keys are bound
-- values escaped as JSON pointers, never spliced); $cost_column ('EffectiveCost' or 'BilledCost');
-- $from, $to (TIMESTAMPTZ, or NULL for no bound: keep the hours in [$from, $to)).
-- Tag values are extracted once per distinct Tags text, not once per row (see allocation_daily.sql).
WITH charges AS (
    SELECT ProviderName AS provider,
           BillingCurrency AS currency,
           CAST(Tags AS VARCHAR) AS tags_text,
           utc_hour(ChargePeriodStart) AS first_hour,
           greatest(1, CAST(ceil(epoch(ChargePeriodEnd - utc_hour(ChargePeriodStart)) / 3600) AS BIGINT))
               AS hours,
           sum(CASE WHEN $cost_column = 'BilledCost' THEN BilledCost ELSE EffectiveCost END) AS cost
    FROM billing
    WHERE ChargePeriodStart IS NOT NULL
      AND ($from::TIMESTAMPTZ IS NULL OR coalesce(ChargePeriodEnd, ChargePeriodStart) > $from::TIMESTAMPTZ)
      AND ($to::TIMESTAMPTZ IS NULL OR ChargePeriodStart < $to::TIMESTAMPTZ)
    GROUP BY ALL
),
tag_sets AS (
    SELECT tags_text,
           list_filter(
               list_transform(
                   $service_keys::VARCHAR[],
                   k -> trim(json_extract_string(
                       Tags,
                       '/' || replace(replace(list_filter(json_keys(Tags), j -> lower(j) = k)[1], '~', '~0'), '/', '~1')
                   ))
               ),
               v -> v <> ''
           )[1] AS service_tag,
           list_filter(
               list_transform(
                   $environment_keys::VARCHAR[],
                   k -> trim(json_extract_string(
                       Tags,
                       '/' || replace(replace(list_filter(json_keys(Tags), j -> lower(j) = k)[1], '~', '~0'), '/', '~1')
                   ))
               ),
               v -> v <> ''
           )[1] AS environment_tag
    FROM (SELECT DISTINCT tags_text, CAST(tags_text AS JSON) AS Tags FROM charges)
),
grouped AS (
    SELECT c.provider, c.currency, t.service_tag, t.environment_tag, c.first_hour, c.hours, sum(c.cost) AS cost
    FROM charges AS c
    JOIN tag_sets AS t ON t.tags_text IS NOT DISTINCT FROM c.tags_text
    WHERE t.service_tag IS NOT NULL
    GROUP BY ALL
    HAVING sum(c.cost) <> 0
),
spread AS (
    SELECT provider, currency, service_tag, environment_tag, first_hour, hours, cost,
           CAST(cost / hours AS DECIMAL(38, 12)) AS share,
           unnest(generate_series(0, hours - 1)) AS i
    FROM grouped
),
hourly AS (
    SELECT provider, currency, service_tag, environment_tag,
           first_hour + to_hours(i) AS hour,
           CASE WHEN i = hours - 1 THEN cost - share * (hours - 1) ELSE share END AS cost
    FROM spread
)
SELECT provider, currency, service_tag, environment_tag, hour, sum(cost) AS cost
FROM hourly
WHERE ($from::TIMESTAMPTZ IS NULL OR hour >= $from::TIMESTAMPTZ)
  AND ($to::TIMESTAMPTZ IS NULL OR hour < $to::TIMESTAMPTZ)
GROUP BY ALL
