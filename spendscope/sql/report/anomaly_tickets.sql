-- Tickets opened for findings (tickets table, written by the ticket sinks), one row per finding
-- fingerprint a ticket covers: the status shown beside an anomaly. The latest-updated ticket of a
-- fingerprint wins. Grain: one row per fingerprint. Params: none.
SELECT fingerprint, sink, external_id, url, status, updated_at
FROM tickets, unnest(CAST(fingerprints AS VARCHAR[])) AS f(fingerprint)
QUALIFY row_number() OVER (PARTITION BY fingerprint ORDER BY updated_at DESC, sink) = 1
