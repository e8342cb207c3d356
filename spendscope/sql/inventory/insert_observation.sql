-- Inventory: append one observation (one row per resource) under its source; history is kept.
-- Grain: one row per (source, observed_at, provider, account_id, region, resource_type, resource_id).
-- Params: $source. Reads the Arrow table registered as inventory_observation (columns matched by
-- name; tags and details are JSON object strings).
INSERT INTO inventory BY NAME
SELECT provider,
       account_id,
       region,
       resource_id,
       resource_type,
       state,
       attached_to,
       CAST(created_at AS TIMESTAMPTZ) AS created_at,
       CAST(last_used_at AS TIMESTAMPTZ) AS last_used_at,
       CAST(size AS DECIMAL(38, 6)) AS size,
       size_unit,
       CAST(tags AS JSON) AS tags,
       CAST(details AS JSON) AS details,
       $source AS source,
       CAST(observed_at AS TIMESTAMPTZ) AS observed_at
FROM inventory_observation
