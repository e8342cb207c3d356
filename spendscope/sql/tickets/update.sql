-- Record what an open ticket lists after an update comment. Params: $sink, $group_key,
-- $fingerprints (JSON text), $payload_sha256, $items (JSON text), $now.
UPDATE tickets
SET fingerprints = CAST($fingerprints AS JSON),
    payload_sha256 = $payload_sha256,
    items = CAST($items AS JSON),
    updated_at = $now::TIMESTAMPTZ
WHERE sink = $sink AND group_key = $group_key AND status = 'open'
