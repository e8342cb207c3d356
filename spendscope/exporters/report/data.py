"""The report's inputs: frames read from the stored results by the SQL in ``sql/report/`` (no analysis rerun).

Every query is bounded by the report's month (and the previous one); ``billing`` is scanned only for the
default period, the month totals and the reconciliation box. Money stays Decimal(38, 12) per currency.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import polars as pl

from spendscope import sql
from spendscope.errors import ExporterError

__all__ = ["Month", "ReportData", "read_report_data", "resolve_month"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Month:
    """The reported calendar month and the one before it (UTC)."""

    first_day: date
    previous_first_day: date
    complete: bool
    """Every provider's usage reaches the month's end (see sql/report/periods.sql)."""

    @property
    def start(self) -> datetime:
        return datetime(self.first_day.year, self.first_day.month, 1, tzinfo=UTC)

    @property
    def previous_start(self) -> datetime:
        return datetime(self.previous_first_day.year, self.previous_first_day.month, 1, tzinfo=UTC)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.first_day.year, self.first_day.month)[1]

    @property
    def last_day(self) -> date:
        return self.first_day.replace(day=self.days)

    @property
    def key(self) -> str:
        return self.first_day.strftime("%Y-%m")

    @property
    def label(self) -> str:
        return self.first_day.strftime("%B %Y")

    @property
    def previous_label(self) -> str:
        return self.previous_first_day.strftime("%B %Y")


def _previous(day: date) -> date:
    return date(day.year - 1, 12, 1) if day.month == 1 else date(day.year, day.month - 1, 1)


def resolve_month(conn: duckdb.DuckDBPyConnection, period: str | None) -> Month:
    """``period`` ("YYYY-MM"), or the latest complete billing period (the latest of any when none is complete).

    Raises ExporterError when the warehouse holds no billing data, or ``period`` is malformed.
    """
    row = conn.execute(sql.load("report/periods")).fetchone()
    latest_complete, latest = row if row else (None, None)
    if period is None:
        chosen = latest_complete or latest
        if chosen is None:
            raise ExporterError("the warehouse has no billing data to report on", source="report")
    else:
        try:
            chosen = datetime.strptime(period, "%Y-%m").date()
        except ValueError:
            raise ExporterError(f"period {period!r} is not YYYY-MM", source="report") from None
    complete = latest_complete is not None and chosen <= latest_complete
    return Month(chosen, _previous(chosen), complete)


@dataclass(frozen=True)
class ReportData:
    """Frames of one month's report; columns are those of the named ``sql/report`` file."""

    month: Month
    month_totals: pl.DataFrame
    reconciliation: pl.DataFrame
    dimension_totals: pl.DataFrame
    dimension_daily: pl.DataFrame
    mover_drivers: pl.DataFrame
    unit_costs: pl.DataFrame
    unit_costs_daily: pl.DataFrame
    untagged_summary: pl.DataFrame
    untagged_accounts: pl.DataFrame
    untagged_resources: pl.DataFrame
    allocation_gaps: pl.DataFrame
    unallocated_top: pl.DataFrame
    tag_coverage: pl.DataFrame
    compliance_daily: pl.DataFrame
    orphans_by_kind: pl.DataFrame
    orphans: pl.DataFrame
    """``sql/queries/orphan_findings.sql`` (the contract of `spendscope orphans`)."""
    anomalies: pl.DataFrame
    """``sql/queries/anomaly_findings.sql`` for the anomalies overlapping the month."""
    tickets: pl.DataFrame
    tickets_stored: int
    """Rows in ``tickets``: 0 means no ticket sink has written anything (none configured)."""
    forecast_accuracy: pl.DataFrame
    budget_daily: pl.DataFrame
    budget_forecasts: pl.DataFrame
    budget_status: pl.DataFrame


def read_report_data(conn: duckdb.DuckDBPyConnection, month: Month, *, top_offenders: int) -> ReportData:
    """Run every report query for ``month``; read-only."""
    both = {"period_start": month.start, "previous_start": month.previous_start}
    one = {"period_start": month.start}
    top = {"period_start": month.start, "limit": top_offenders}
    day = {"period": month.first_day}

    def q(name: str, params: Mapping[str, object] | None = None) -> pl.DataFrame:
        try:
            return conn.execute(sql.load(name), dict(params or {})).pl()
        except duckdb.Error as exc:
            raise ExporterError(str(exc).splitlines()[0], source=f"sql/{name}.sql") from exc

    anomaly_window = {"from": month.first_day, "to": month.last_day, "kinds": []}
    count = conn.execute("SELECT count(*) FROM tickets").fetchone()
    data = ReportData(
        month=month,
        month_totals=q("report/month_totals", both),
        reconciliation=q("report/reconciliation", one),
        dimension_totals=q("report/dimension_totals", both),
        dimension_daily=q("report/dimension_daily", one),
        mover_drivers=q("report/mover_drivers", both),
        unit_costs=q("report/unit_costs", both),
        unit_costs_daily=q("report/unit_costs_daily", one),
        untagged_summary=q("report/untagged_summary", both),
        untagged_accounts=q("report/untagged_accounts", top),
        untagged_resources=q("report/untagged_resources", top),
        allocation_gaps=q("report/allocation_gaps", both),
        unallocated_top=q("report/unallocated_top", top),
        tag_coverage=q("report/tag_coverage", one),
        compliance_daily=q("report/compliance_daily", one),
        orphans_by_kind=q("report/orphans_by_kind"),
        orphans=q("queries/orphan_findings"),
        anomalies=q("queries/anomaly_findings", anomaly_window),
        tickets=q("report/anomaly_tickets"),
        tickets_stored=int(count[0]) if count else 0,
        forecast_accuracy=q("report/forecast_accuracy", day),
        budget_daily=q("report/budget_daily", one),
        budget_forecasts=q("report/budget_forecasts", day),
        budget_status=q("report/budget_status", day),
    )
    log.info(
        "report data period=%s complete=%s dimension_rows=%d anomalies=%d",
        month.key,
        month.complete,
        data.dimension_totals.height,
        data.anomalies.height,
    )
    return data
