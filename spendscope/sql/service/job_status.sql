-- Per job of `spendscope serve`: its last successful run and its latest run of any status, from the
-- service_runs ledger. Grain: one row per job that ever ran. Read on start (missed runs) and by /readyz.
WITH ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY job ORDER BY started_at DESC, run_id) AS latest
    FROM service_runs
),
ok AS (
    SELECT job,
           max(started_at) AS last_success_started,
           max(finished_at) AS last_success_finished,
           count(*) AS successes
    FROM service_runs
    WHERE status = 'succeeded'
    GROUP BY job
)
SELECT r.job,
       ok.last_success_started,
       ok.last_success_finished,
       coalesce(ok.successes, 0) AS successes,
       r.run_id AS last_run_id,
       r.status AS last_status,
       r.started_at AS last_started,
       r.finished_at AS last_finished,
       r.detail AS last_detail,
       r.error AS last_error
FROM ranked AS r
LEFT JOIN ok USING (job)
WHERE r.latest = 1
ORDER BY r.job
