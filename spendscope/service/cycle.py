"""One full cycle of what the config declares: ingest every source, analyze, publish (alerts when configured).

`spendscope run` runs it once and exits (cron-style deployments); the scheduler of `spendscope serve`
runs the same steps on its own schedule. A source that fails does not stop the others (its error is
recorded in ``collector_runs`` and reported); the analysis runs on whatever is stored. A failed
analysis job stops the cycle (its previous results stay, see spendscope.analysis.run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from spendscope.analysis.run import JobResult, run_analysis
from spendscope.config import Settings, SourceConfig
from spendscope.errors import SpendscopeError
from spendscope.pipeline import ingest, sources_from_config

__all__ = ["CycleResult", "ExportOutcome", "SourceOutcome", "ingest_configured", "publish", "run_cycle"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceOutcome:
    source: str
    status: str
    """loaded, unchanged or failed."""
    rows: int
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class ExportOutcome:
    step: str
    ok: bool
    detail: str


@dataclass
class CycleResult:
    started_at: datetime
    sources: list[SourceOutcome] = field(default_factory=list)
    jobs: list[JobResult] = field(default_factory=list)
    exports: list[ExportOutcome] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    """The error that stopped the cycle (an analysis job), if any."""

    @property
    def failed_sources(self) -> list[SourceOutcome]:
        return [s for s in self.sources if s.status == "failed"]

    @property
    def rows_loaded(self) -> int:
        return sum(s.rows for s in self.sources)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed_sources and all(e.ok for e in self.exports)


def ingest_configured(conn: duckdb.DuckDBPyConnection, cfg: SourceConfig, settings: Settings) -> list[SourceOutcome]:
    """Ingest every ledger source of one [[sources]] entry; a failure is an outcome, never raised.

    An entry whose sources cannot even be listed is one failed outcome under the entry's name.
    """
    t = time.perf_counter()
    from spendscope.warehouse.spark.sources import spark_readable

    if settings.engine == "spark" and spark_readable(cfg):  # normalized and rolled up in Spark
        from spendscope.warehouse.spark.ingest import ingest_source_config

        try:
            results = ingest_source_config(conn, cfg, settings.spark)
        except SpendscopeError as exc:
            log.warning("source failed source=%s engine=spark error=%s", cfg.name, exc)
            return [SourceOutcome(cfg.name, "failed", 0, time.perf_counter() - t, str(exc))]
        status = "loaded" if any(r.status == "loaded" for r in results) else "unchanged"
        return [SourceOutcome(cfg.name, status, sum(r.rows for r in results), time.perf_counter() - t)]
    try:
        sources = sources_from_config(conn, cfg, azure=settings.azure, network=settings.network)
    except SpendscopeError as exc:
        log.warning("source failed source=%s error=%s", cfg.name, exc)
        return [SourceOutcome(cfg.name, "failed", 0, time.perf_counter() - t, str(exc))]
    outcomes = []
    for source in sources:
        t = time.perf_counter()
        try:
            loaded = ingest(conn, source, period=getattr(cfg, "period", None))
        except SpendscopeError as exc:
            log.warning("source failed source=%s error=%s", source.source, exc)
            outcomes.append(SourceOutcome(source.source, "failed", 0, time.perf_counter() - t, str(exc)))
            continue
        outcomes.append(SourceOutcome(source.source, loaded.status, loaded.rows, time.perf_counter() - t))
    return outcomes


def run_cycle(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    analyze: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> CycleResult:
    """Ingest each configured source, then run every analysis job."""
    result = CycleResult(started_at=datetime.now(UTC))
    started = time.perf_counter()
    for cfg in settings.sources:
        if on_step is not None:
            on_step(f"ingest {cfg.name}")
        result.sources += ingest_configured(conn, cfg, settings)
    if analyze:
        try:
            result.jobs = run_analysis(
                conn, settings, on_job=(lambda name: on_step(f"analyze {name}")) if on_step else None
            )
        except SpendscopeError as exc:
            result.error = str(exc)
    if analyze and result.error is None:
        result.exports += publish(conn, settings, on_step)
    result.seconds = time.perf_counter() - started
    return result


def publish(
    conn: duckdb.DuckDBPyConnection, settings: Settings, on_step: Callable[[str], None] | None = None
) -> list[ExportOutcome]:
    """The exporters the config enables, after a successful analysis (`spendscope run` and the export job of
    `spendscope serve`). A failure is reported, not raised: nothing is stored by an exporter, so the next
    run simply sends everything again."""
    outcomes = []
    if settings.alertmanager.url:
        from spendscope.exporters.alertmanager import push_alerts

        if on_step is not None:
            on_step("alerts")
        try:
            pushed = push_alerts(conn, settings.alertmanager)
            resolved = pushed.resolved + pushed.stale
            outcomes.append(ExportOutcome("alerts", True, f"{pushed.firing} firing, {resolved} resolved"))
        except SpendscopeError as exc:
            log.warning("alerts push failed: %s", exc)
            outcomes.append(ExportOutcome("alerts", False, str(exc)))
    return outcomes
