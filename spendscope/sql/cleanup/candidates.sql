-- Cleanup candidates (spendscope.exporters.cleanup and .tickets): the orphan findings of the latest
-- orphan run, with the tags of the resource's latest inventory row (protection rules and owners
-- read them). Grain: one row per orphan finding (fingerprint, currency). Params: none.
-- tags: list of {key, value} (every tag, keys as written); tags_json: the same object as JSON text.
WITH latest AS (
    SELECT provider, account_id, resource_id, tags
    FROM inventory
    QUALIFY row_number() OVER (PARTITION BY provider, account_id, resource_id ORDER BY observed_at DESC) = 1
)
SELECT f.fingerprint,
       f.run_id,
       f.provider,
       f.account_id,
       f.region,
       f.resource_id,
       json_extract_string(f.dimensions, '$.resource_type') AS resource_type,
       json_extract_string(f.dimensions, '$.orphan_kind') AS kind,
       json_extract_string(f.dimensions, '$.owner') AS owner_tag,
       json_extract_string(f.dimensions, '$.team') AS team_tag,
       json_extract_string(f.details, '$.state') AS state,
       CAST(json_extract_string(f.details, '$.age_days') AS INTEGER) AS created_age_days,
       json_extract_string(f.details, '$.cost_source') AS cost_source,
       f.monthly_cost,
       f.currency,
       f.first_seen,
       coalesce(CAST(l.tags AS VARCHAR), '{}') AS tags_json,
       coalesce(map_entries(json_transform(l.tags, '"MAP(VARCHAR, VARCHAR)"')), []) AS tags
FROM findings AS f
LEFT JOIN latest AS l
       ON l.provider = f.provider
      AND l.account_id IS NOT DISTINCT FROM f.account_id
      AND l.resource_id = f.resource_id
WHERE f.kind = 'orphan'
ORDER BY f.fingerprint, f.currency
