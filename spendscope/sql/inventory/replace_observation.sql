-- Inventory: remove an earlier load of the same observation, so loading it again replaces it.
-- Grain: inventory rows of one source at the observed_at values present in the new observation.
-- Params: $source. Reads the Arrow table registered as inventory_observation.
DELETE FROM inventory
WHERE source = $source
  AND observed_at IN (SELECT DISTINCT CAST(observed_at AS TIMESTAMPTZ) FROM inventory_observation)
