-- Remove one transactions source's rows whose window starts in [$start, $end), before a reload.
-- Params: $source (VARCHAR), $start, $end (TIMESTAMPTZ).
DELETE FROM transactions
WHERE source = $source
  AND window_start >= $start::TIMESTAMPTZ
  AND window_start < $end::TIMESTAMPTZ
