-- Orphan candidates (spendscope.analysis.orphans): the latest observation of each resource, with
-- the details fields the orphan rules read.
-- Grain: one row per (source, provider, account_id, resource_type, resource_id): its latest row
-- observed at or before $now, kept only when that row belongs to the source's latest observation
-- (a resource absent from it has been deleted since).
-- Params: $now (TIMESTAMPTZ; ages are whole days before it); $team_key, $owner_key (tag keys,
-- lower case, matched ignoring case, bound as values).
WITH seen AS (
    SELECT * FROM inventory WHERE observed_at <= $now::TIMESTAMPTZ
),
latest AS (
    SELECT *
    FROM seen
    QUALIFY row_number() OVER (
        PARTITION BY source, provider, account_id, resource_type, resource_id ORDER BY observed_at DESC
    ) = 1
),
current_observation AS (
    SELECT source, max(observed_at) AS observed_at FROM seen GROUP BY source
)
SELECT l.source,
       l.observed_at,
       l.provider,
       l.account_id,
       l.region,
       l.resource_id,
       l.resource_type,
       l.state,
       l.attached_to,
       l.created_at,
       l.last_used_at,
       l.size,
       l.size_unit,
       CAST(floor((epoch($now::TIMESTAMPTZ) - epoch(l.created_at)) / 86400) AS INTEGER) AS age_days,
       CAST(floor((epoch($now::TIMESTAMPTZ) - epoch(l.last_used_at)) / 86400) AS INTEGER) AS idle_days,
       CAST(coalesce(json_extract_string(l.details, '$.source_volume_exists'),
                     json_extract_string(l.details, '$.source_disk_exists')) AS BOOLEAN) AS source_exists,
       CAST(json_extract_string(l.details, '$.registered_targets') AS INTEGER) AS registered_targets,
       CAST(coalesce(json_extract(l.details, '$.attached_volumes'),
                     json_extract(l.details, '$.attached_disks')) AS VARCHAR[]) AS attached_disks,
       json_extract_string(l.tags, '/' || replace(replace(
           list_filter(json_keys(l.tags), k -> lower(k) = $team_key)[1], '~', '~0'), '/', '~1')) AS team,
       json_extract_string(l.tags, '/' || replace(replace(
           list_filter(json_keys(l.tags), k -> lower(k) = $owner_key)[1], '~', '~0'), '/', '~1')) AS owner
FROM latest AS l
JOIN current_observation AS c ON c.source = l.source AND c.observed_at = l.observed_at
