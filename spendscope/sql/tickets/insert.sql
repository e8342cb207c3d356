-- Record a ticket just opened in a sink. Params: $sink, $group_key, $external_id, $url,
-- $fingerprints (JSON text), $payload_sha256, $items (JSON text), $now.
INSERT INTO tickets (sink, group_key, external_id, url, status, fingerprints, payload_sha256, created_at, updated_at,
                     closed_at, items)
VALUES ($sink, $group_key, $external_id, $url, 'open', CAST($fingerprints AS JSON), $payload_sha256, $now::TIMESTAMPTZ,
        $now::TIMESTAMPTZ, NULL, CAST($items AS JSON))
