"""`spendscope analyze`: every analysis job, in dependency order, each storing its results atomically.

FX rates are stored first (allocation and commitments convert with them), then allocation (unit
cost, forecasts, budgets and team anomalies read ``allocated_daily``).
Each job records its own run in ``analysis_runs`` and replaces its own result tables in one
transaction, so a failure leaves that job's previous results in place; the jobs after it are not
run, and the error names the job.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from spendscope.errors import ConfigError, SpendscopeError, WarehouseError

if TYPE_CHECKING:
    from spendscope.config import Settings

__all__ = ["JOBS", "JobResult", "run_analysis"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    job: str
    summary: str
    """One line for the terminal: what the job stored."""
    seconds: float


@dataclass(frozen=True)
class _Context:
    conn: duckdb.DuckDBPyConnection
    settings: Settings
    period: str | None
    now: datetime


def _fx(ctx: _Context) -> str:
    from spendscope.analysis.fx import run_fx

    stored = run_fx(ctx.conn, ctx.settings.currency)
    if stored is None:
        return "no reporting currency configured"
    return f"{stored.rates.height} FX rates into {stored.reporting} from {stored.source}"


def _allocation(ctx: _Context) -> str:
    from spendscope.analysis.allocation import run_allocation

    result = run_allocation(ctx.conn, ctx.settings.allocation, period=ctx.period)
    shares = ", ".join(f"{c} {s:.1%}" for c, s in sorted(result.unallocated_share.items())) or "no spend"
    return f"{result.rows.height:,} allocated_daily rows; unallocated {shares}"


def _untagged(ctx: _Context) -> str:
    from spendscope.analysis.untagged import run_untagged

    _, daily = run_untagged(ctx.conn, ctx.settings.tag_policy, period=ctx.period)
    return f"{daily.height:,} untagged_daily rows"


def _orphans(ctx: _Context) -> str:
    from spendscope.analysis.orphans import run_orphans

    return f"{run_orphans(ctx.conn, now=ctx.now)} orphaned resources in findings"


def _commitments(ctx: _Context) -> str:
    from spendscope.analysis.commitments import run_commitments

    result = run_commitments(ctx.conn, period=ctx.period)
    return f"{result.utilization.height} commitments, {result.coverage.height} coverage rows"


def _unit_cost(ctx: _Context) -> str:
    from spendscope.analysis.unit_cost import run_unit_costs

    result = run_unit_costs(ctx.conn, ctx.settings.unit_cost, period=ctx.period)
    counts = ", ".join(f"{n:,} {status}" for status, n in sorted(result.statuses.items())) or "no windows"
    return f"unit_costs: {counts}"


def _forecast(ctx: _Context) -> str:
    from spendscope.analysis.forecast import run_forecast

    result = run_forecast(ctx.conn, ctx.settings, period=ctx.period)
    if result.made_on is None:
        return "no complete day to forecast from"
    statuses = result.budgets["status"].value_counts(sort=True) if result.budgets.height else None
    budgets = (
        ", ".join(f"{n} {s}" for s, n in statuses.iter_rows()) if statuses is not None else "no budgets configured"
    )
    return f"{result.forecasts.height} month-end forecasts made on {result.made_on}; budgets: {budgets}"


def _anomalies(ctx: _Context) -> str:
    from spendscope.analysis.anomalies import run_anomalies

    result = run_anomalies(ctx.conn, ctx.settings.anomalies, period=ctx.period, now=ctx.now)
    frame = result.anomalies
    if not frame.height:
        return "no anomalies"
    kinds = ", ".join(f"{n} {k}" for k, n in frame["kind"].value_counts(sort=True).iter_rows())
    return f"{frame.height} anomalies in findings ({kinds})"


JOBS: dict[str, Callable[[_Context], str]] = {
    "fx": _fx,
    "allocation": _allocation,
    "untagged": _untagged,
    "orphans": _orphans,
    "commitments": _commitments,
    "unit_cost": _unit_cost,
    "forecast": _forecast,
    "anomalies": _anomalies,
}


def _preload(module: str) -> None:
    try:
        importlib.import_module(module)
        importlib.import_module("statsforecast.models")
    except ImportError:  # the forecast job reports it when it runs
        pass


def run_analysis(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    period: str | None = None,
    now: datetime | None = None,
    jobs: Sequence[str] | None = None,
    on_job: Callable[[str], None] | None = None,
) -> list[JobResult]:
    """Run ``jobs`` (default: all, in JOBS order) for one billing period or every period.

    ``on_job(name)`` is called before each job (for a progress display).
    """
    chosen = list(JOBS) if not jobs else list(jobs)
    unknown = [j for j in chosen if j not in JOBS]
    if unknown:
        raise ConfigError(f"unknown analysis job(s) {', '.join(unknown)}; valid: {', '.join(JOBS)}")
    ctx = _Context(conn, settings, period, now or datetime.now(UTC))
    if "forecast" in chosen:
        # statsforecast (pandas, scipy, statsmodels) takes seconds to import; import it while the SQL-heavy
        # jobs before the forecast run (DuckDB releases the GIL), so the forecast does not wait for it.
        threading.Thread(target=_preload, args=("spendscope.analysis.forecast_model",), daemon=True).start()
    results = []
    for name in (j for j in JOBS if j in chosen):
        if on_job is not None:
            on_job(name)
        started = time.perf_counter()
        try:
            summary = JOBS[name](ctx)
        except SpendscopeError as exc:
            raise type(exc)(str(exc), source=f"analyze {name}") from exc
        except duckdb.Error as exc:
            raise WarehouseError(str(exc).splitlines()[0], source=f"analyze {name}") from exc
        secs = time.perf_counter() - started
        log.info("analysis job=%s seconds=%.2f %s", name, secs, summary)
        results.append(JobResult(name, summary, secs))
    return results
