"""The monthly report: a self-contained HTML file (inline SVG charts, no script, no network) with CSV,
Parquet and XLSX extracts beside it, read from the stored analysis results.

``write_report(conn, settings, *, period, out_dir)`` never recomputes an analysis and never calls a
cloud API: it reads ``billing`` (month totals and the reconciliation box only), ``allocated_daily``,
``untagged_daily`` / ``untagged_resources``, ``unit_costs``, ``forecasts``, ``budget_status``,
``findings`` (orphans, anomalies) and ``tickets`` through ``sql/report/*.sql``. Every value that came
from a bill is escaped in HTML (Jinja2 autoescape; charts are SVG rendered server-side by Vega-Lite,
whose text is escaped too) and neutralized against formula injection in CSV/XLSX. The page carries a
Content-Security-Policy that forbids scripts and every network fetch.

Heavy libraries (Altair, vl-convert, XlsxWriter) load only when a report is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spendscope.exporters.report.settings import ReportSettings

if TYPE_CHECKING:
    from spendscope.exporters.report.build import ReportResult, default_period, write_report

__all__ = ["ReportResult", "ReportSettings", "default_period", "write_report"]

_LAZY = ("ReportResult", "default_period", "write_report")


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from spendscope.exporters.report import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
