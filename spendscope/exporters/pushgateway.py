"""Push a batch run's own metrics to a Prometheus Pushgateway (`spendscope run --push URL`).

A cron-style run exits before any scrape; it pushes its outcome instead under the grouping key job +
instance. The push is a POST, which replaces only the metrics it carries: a failed run does not push
``spendscope_run_last_success_timestamp_seconds``, so the previous success's time stays visible.
The cost figures themselves are not pushed: `spendscope metrics serve` exposes them.
"""

from __future__ import annotations

import logging
import socket

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import pushadd_to_gateway

from spendscope.errors import ExporterError
from spendscope.service.cycle import CycleResult

__all__ = ["RUN_METRIC_NAMES", "push_run_metrics", "run_registry"]

log = logging.getLogger(__name__)

RUN_METRIC_NAMES = {
    "spendscope_run_last_timestamp_seconds": "Unix time the batch run finished.",
    "spendscope_run_last_success_timestamp_seconds": "Unix time of the last run with no failed step.",
    "spendscope_run_duration_seconds": "Wall time of the batch run.",
    "spendscope_run_success": "1 when every source and analysis job succeeded, else 0.",
    "spendscope_run_rows_loaded": "Billing rows loaded by the run.",
    "spendscope_run_sources_failed": "Sources whose ingest failed in the run.",
    "spendscope_run_source_rows": "Billing rows loaded per source by the run.",
    "spendscope_run_source_success": "1 when the source's ingest succeeded (loaded or unchanged) in the run.",
}


def run_registry(result: CycleResult, *, finished: float) -> CollectorRegistry:
    """The run's metrics in a fresh registry (never the global one)."""
    registry = CollectorRegistry()

    def gauge(name: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, RUN_METRIC_NAMES[name], labelnames=labels, registry=registry)

    gauge("spendscope_run_last_timestamp_seconds").set(finished)
    if result.ok:
        gauge("spendscope_run_last_success_timestamp_seconds").set(finished)
    gauge("spendscope_run_duration_seconds").set(result.seconds)
    gauge("spendscope_run_success").set(1 if result.ok else 0)
    gauge("spendscope_run_rows_loaded").set(result.rows_loaded)
    gauge("spendscope_run_sources_failed").set(len(result.failed_sources))
    rows = gauge("spendscope_run_source_rows", ("source",))
    success = gauge("spendscope_run_source_success", ("source",))
    for s in result.sources:
        rows.labels(source=s.source).set(s.rows)
        success.labels(source=s.source).set(0 if s.status == "failed" else 1)
    return registry


def push_run_metrics(
    url: str, result: CycleResult, *, finished: float, job: str = "spendscope", instance: str | None = None
) -> None:
    """POST the run's metrics to the Pushgateway at ``url`` under {job, instance}.

    Raises ExporterError (one line, naming the URL) when the Pushgateway cannot be reached.
    """
    grouping = {"instance": instance or socket.gethostname()}
    try:
        pushadd_to_gateway(
            url, job=job, registry=run_registry(result, finished=finished), grouping_key=grouping, timeout=10
        )
    except OSError as exc:  # URLError and HTTPError are OSErrors
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise ExporterError(f"cannot push run metrics: {reason}", source=f"pushgateway {url}") from None
    log.info("pushed run metrics url=%s job=%s instance=%s", url, job, grouping["instance"])
