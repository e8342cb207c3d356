-- Ledger: the units produced by the latest load of this exact file set for this source, with
-- their status. A re-run is a no-op when this returns rows and all of them are still 'loaded'.
-- Params: $source, $fileset_sha256.
SELECT billing_period_start, status
FROM ingests
WHERE source = $source
  AND fileset_sha256 = $fileset_sha256
  AND ingest_id = (
      SELECT max(ingest_id) FROM ingests
      WHERE source = $source AND fileset_sha256 = $fileset_sha256 AND status IN ('loaded', 'replaced')
  )
