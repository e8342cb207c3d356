-- Remove the allocated_daily rows of the periods an allocation run recomputes (before its insert,
-- in the same transaction). Params: $all (BOOLEAN: every period), $periods (TIMESTAMPTZ[]: the
-- billing_period_start values to replace when $all is false).
DELETE FROM allocated_daily
WHERE $all OR list_contains($periods::TIMESTAMPTZ[], billing_period_start)
