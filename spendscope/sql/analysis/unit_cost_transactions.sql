-- Transactions per service and stored bucket, for cost per transaction (spendscope.analysis.unit_cost).
-- Grain: (service, window_start, window_end) as stored, counts summed over the chosen sources.
-- Params: $sources (VARCHAR[], or NULL for every source); $from, $to (TIMESTAMPTZ, or NULL for no
-- bound: keep buckets starting in [$from, $to)).
SELECT service, window_start, window_end, sum(count) AS count
FROM transactions
WHERE ($sources::VARCHAR[] IS NULL OR list_contains($sources::VARCHAR[], source))
  AND ($from::TIMESTAMPTZ IS NULL OR window_start >= $from::TIMESTAMPTZ)
  AND ($to::TIMESTAMPTZ IS NULL OR window_start < $to::TIMESTAMPTZ)
GROUP BY ALL
