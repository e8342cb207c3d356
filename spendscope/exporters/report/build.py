"""``write_report``: read the stored results of one month, shape them, render the HTML and the extracts."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from spendscope.errors import ExporterError
from spendscope.exporters.report import shape
from spendscope.exporters.report.data import Month, read_report_data, resolve_month
from spendscope.exporters.report.model import Report

if TYPE_CHECKING:
    from spendscope.config import Settings

__all__ = ["ReportResult", "default_period", "write_report"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportResult:
    period: str
    """The month reported, YYYY-MM."""
    complete: bool
    """False when the month's usage is not complete yet (the report says "month to date")."""
    html: Path
    xlsx: Path
    csv: Path
    parquet: Path
    charts: int
    seconds: float

    @property
    def files(self) -> list[Path]:
        return [self.html, self.xlsx, self.csv, self.parquet]


def default_period(conn: duckdb.DuckDBPyConnection) -> str:
    """The latest complete billing period in the warehouse (YYYY-MM), else the latest one."""
    return resolve_month(conn, None).key


def _budgets_frame(settings: Settings, month: Month, stored: pl.DataFrame) -> pl.DataFrame:
    """The budgets in effect: the config's for the month, plus stored statuses of budgets it no longer has."""
    from spendscope.analysis.budgets import effective_budgets

    rows = [
        {"name": b.name, "scope": b.scope, "scope_value": b.value, "currency": b.currency, "amount": b.amount}
        for b in effective_budgets(settings.budgets, month.first_day)
    ]
    configured = pl.DataFrame(
        rows,
        schema={
            "name": pl.String,
            "scope": pl.String,
            "scope_value": pl.String,
            "currency": pl.String,
            "amount": shape.MONEY,
        },
        orient="row",
    )
    extra = stored.select(shape.BUDGET_COLUMNS).join(configured.select("name"), on="name", how="anti")
    return pl.concat([configured, extra.cast(configured.schema)], how="vertical")


def build_report(conn: duckdb.DuckDBPyConnection, settings: Settings, *, period: str | None) -> Report:
    """The report model of ``period`` (YYYY-MM; None: the latest complete period). Read-only."""
    from spendscope.exporters.report.sections import (
        anomalies_section,
        budgets_section,
        orphans_section,
        reconciliation_section,
        spend_section,
        unit_cost_section,
        untagged_section,
    )
    from spendscope.exporters.report.summary import summary_section

    cfg = settings.report
    month = resolve_month(conn, period)
    data = read_report_data(conn, month, top_offenders=cfg.top_offenders)
    budgets = shape.budget_table(
        _budgets_frame(settings, month, data.budget_status),
        data.budget_daily,
        data.budget_forecasts,
        data.budget_status,
        month_complete=month.complete,
    )
    paths = shape.budget_paths(budgets, data.budget_daily, first_day=month.first_day, days=month.days)
    movers = shape.rank_movers(data.mover_drivers, n=3)
    now = datetime.now(UTC)
    sections = [
        summary_section(data, budgets, movers, cfg),
        spend_section(data, cfg),
        unit_cost_section(data, cfg),
        untagged_section(data, cfg),
        orphans_section(data, cfg),
        anomalies_section(data, cfg),
        budgets_section(data, budgets, paths, cfg),
        reconciliation_section(data),
    ]
    state = "" if month.complete else " (month to date: the month's usage is not complete yet)"
    return Report(
        title=f"Cloud cost report — {month.label}",
        period=month.key,
        complete=month.complete,
        subtitle=f"Billing period {month.key}{state}, compared with {month.previous_label}.",
        generated_at=now.strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
    )


def write_report(
    conn: duckdb.DuckDBPyConnection, settings: Settings, *, period: str | None, out_dir: Path
) -> ReportResult:
    """Write ``report.html``, ``report.xlsx``, ``costs_by_team.csv`` and ``costs_by_team.parquet`` into
    ``out_dir`` (created; files of the same names are replaced) for ``period`` ("YYYY-MM"; None: the latest
    complete billing period). Reads stored results only: run `spendscope analyze` first. Read-only on the
    warehouse; ExporterError when there is no billing data or ``out_dir`` cannot be written.
    """
    from spendscope.exporters.report.extracts import write_costs_by_team, write_workbook
    from spendscope.exporters.report.render import render_html

    started = time.perf_counter()
    report = build_report(conn, settings, period=period)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        html = out_dir / "report.html"
        html.write_text(render_html(report, label_chars=settings.report.label_chars), encoding="utf-8")
        xlsx = write_workbook(report, out_dir / "report.xlsx")
        team = report.table("spend_team").frame
        csv, parquet = write_costs_by_team(team.rename({"value": "team"}), out_dir)
    except OSError as exc:
        raise ExporterError(f"cannot write the report: {exc.strerror or exc}", source=str(out_dir)) from exc
    charts = sum(len(s.charts) for s in report.sections)
    secs = time.perf_counter() - started
    log.info("report period=%s charts=%d seconds=%.2f out=%s", report.period, charts, secs, out_dir)
    return ReportResult(report.period, report.complete, html, xlsx, csv, parquet, charts, secs)
