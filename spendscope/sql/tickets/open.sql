-- The open tickets of every sink (spendscope.exporters.tickets): what a sync updates or closes.
-- Grain: one row per (sink, group_key) with status 'open'. Params: none.
SELECT sink, group_key, external_id, url, CAST(items AS VARCHAR) AS items, payload_sha256
FROM tickets
WHERE status = 'open'
ORDER BY sink, group_key
