"""What each job of `spendscope serve` does, given its own cursor on the warehouse the service owns.

Each function returns an ``Outcome``; a SpendscopeError it raises is the run's failure (the scheduler's
job wrapper records it). The exporters are imported lazily: one missing (not installed in this build)
is skipped with a log line, never a crash.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import duckdb

from spendscope.config import Settings
from spendscope.service.jobs import JobSpec

__all__ = ["Outcome", "Refreshable", "run_job"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    detail: str
    changed: bool = False
    """The run stored something new: an ingest that loaded rows, an analysis (its downstream is due)."""
    error: str | None = None


class Refreshable(Protocol):
    def refresh_now(self) -> None: ...


def run_job(
    spec: JobSpec, conn: duckdb.DuckDBPyConnection, settings: Settings, *, metrics: Refreshable | None = None
) -> Outcome:
    if spec.kind == "ingest":
        return _ingest(spec, conn, settings)
    if spec.kind == "analyze":
        return _analyze(conn, settings)
    if spec.kind == "export":
        return _export(conn, settings, metrics)
    return _report(conn, settings)


def _ingest(spec: JobSpec, conn: duckdb.DuckDBPyConnection, settings: Settings) -> Outcome:
    from spendscope.service.cycle import ingest_configured

    if spec.source is None:  # job_specs always sets it for ingest jobs
        raise ValueError(f"job {spec.id} has no source")
    outcomes = ingest_configured(conn, spec.source, settings)
    failed = [o for o in outcomes if o.status == "failed"]
    loaded = [o for o in outcomes if o.status == "loaded"]
    detail = "; ".join(f"{o.source}: {o.status} {o.rows} rows" for o in outcomes if o.status != "failed")
    return Outcome(
        ok=not failed,
        detail=detail or "nothing loaded",
        changed=bool(loaded),
        error="; ".join(f"{o.source}: {o.error}" for o in failed) or None,
    )


def _analyze(conn: duckdb.DuckDBPyConnection, settings: Settings) -> Outcome:
    from spendscope.analysis.run import run_analysis

    results = run_analysis(conn, settings, jobs=settings.service.analyze_jobs)
    seconds = sum(r.seconds for r in results)
    return Outcome(ok=True, detail=f"{len(results)} analysis jobs in {seconds:.1f}s", changed=True)


def _export(conn: duckdb.DuckDBPyConnection, settings: Settings, metrics: Refreshable | None) -> Outcome:
    from spendscope.service.cycle import publish

    done = []
    if metrics is not None:
        metrics.refresh_now()
        done.append("metrics snapshot refreshed")
    outcomes = publish(conn, settings)
    done += [f"{o.step}: {o.detail}" for o in outcomes if o.ok]
    failed = [f"{o.step}: {o.detail}" for o in outcomes if not o.ok]
    return Outcome(ok=not failed, detail="; ".join(done) or "nothing to export", error="; ".join(failed) or None)


def _report(conn: duckdb.DuckDBPyConnection, settings: Settings) -> Outcome:
    try:
        from spendscope.exporters.report import default_period, write_report
    except ImportError:
        log.warning("report skipped: spendscope.exporters.report is not available")
        return Outcome(ok=True, detail="report exporter not available")
    period = default_period(conn)
    result = write_report(conn, settings, period=period, out_dir=settings.service.report_dir / period)
    return Outcome(ok=True, detail=f"report of {result.period} in {result.html.parent}")
