-- Record that a ticket was closed because none of its orphans remain. Params: $sink, $group_key, $now.
UPDATE tickets
SET status = 'closed', updated_at = $now::TIMESTAMPTZ, closed_at = $now::TIMESTAMPTZ
WHERE sink = $sink AND group_key = $group_key AND status = 'open'
