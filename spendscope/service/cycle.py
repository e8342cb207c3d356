"""One full cycle of what the config declares: ingest every source, analyze, publish.

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
from spendscope.config import Settings
from spendscope.errors import SpendscopeError
from spendscope.pipeline import ingest, source_from_config

__all__ = ["CycleResult", "SourceOutcome", "run_cycle"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceOutcome:
    source: str
    status: str
    """loaded, unchanged or failed."""
    rows: int
    seconds: float
    error: str | None = None


@dataclass
class CycleResult:
    started_at: datetime
    sources: list[SourceOutcome] = field(default_factory=list)
    jobs: list[JobResult] = field(default_factory=list)
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
        return self.error is None and not self.failed_sources


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
        t = time.perf_counter()
        try:
            loaded = ingest(conn, source_from_config(cfg))
        except SpendscopeError as exc:
            log.warning("source failed source=%s error=%s", cfg.name, exc)
            result.sources.append(SourceOutcome(cfg.name, "failed", 0, time.perf_counter() - t, str(exc)))
            continue
        result.sources.append(SourceOutcome(cfg.name, loaded.status, loaded.rows, time.perf_counter() - t))
    if analyze:
        try:
            result.jobs = run_analysis(
                conn, settings, on_job=(lambda name: on_step(f"analyze {name}")) if on_step else None
            )
        except SpendscopeError as exc:
            result.error = str(exc)
    result.seconds = time.perf_counter() - started
    return result
