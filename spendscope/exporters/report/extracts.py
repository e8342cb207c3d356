"""Extracts beside the HTML: ``costs_by_team.csv`` / ``.parquet`` and an XLSX workbook, one sheet per section.

Text that came from a bill can be a spreadsheet formula (a tag value ``=HYPERLINK(...)``): every string
cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'`` (OWASP's
CSV-injection advice), in the CSV and in the workbook; the workbook also writes every string as a
string (never a formula or URL). Parquet keeps values as they are (typed, never evaluated) with
money as Decimal(38, 12). In the workbook numbers are numbers: money with its currency's number
format (``[$USD] #,##0.00``), percentages as percent, dates as dates.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from spendscope.exporters.report.model import Column, Report, Table

__all__ = ["FORMULA_PREFIXES", "neutralize", "neutralize_frame", "write_costs_by_team", "write_workbook"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_XLSX_TEXT_LIMIT = 32_767
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def neutralize(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def neutralize_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every String column neutralized (see ``neutralize``); other columns unchanged."""
    pattern = "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]"
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(pattern)).then("'" + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c, dtype in frame.schema.items()
        if dtype == pl.String
    )


def write_costs_by_team(frame: pl.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    """``costs_by_team.csv`` (neutralized text, exact decimals) and ``costs_by_team.parquet`` (typed)."""
    csv_path, parquet_path = out_dir / "costs_by_team.csv", out_dir / "costs_by_team.parquet"
    neutralize_frame(frame).write_csv(csv_path)
    frame.write_parquet(parquet_path)
    return csv_path, parquet_path


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.book = book
        self.cache: dict[str, Format] = {}

    def get(self, num_format: str | None, **props: Any) -> Format:
        key = repr((num_format, sorted(props.items())))
        if key not in self.cache:
            self.cache[key] = self.book.add_format({**({"num_format": num_format} if num_format else {}), **props})
        return self.cache[key]

    def money(self, currency: object, *, unit: bool = False) -> Format:
        """``[$USD] #,##0.00``; a cost per transaction keeps its digits (``[$USD] General``)."""
        number = "General" if unit else "#,##0.00"
        code = currency if isinstance(currency, str) and _CURRENCY.match(currency) else None
        return self.get(f"[${code}] {number}" if code else number)


def _write_cell(sheet: Worksheet, row: int, col: int, c: Column, values: dict[str, Any], f: _Formats) -> None:
    v = values.get(c.name)
    if v is None:
        sheet.write_blank(row, col, None)
    elif c.kind in ("money", "signed_money", "unit_money"):
        sheet.write_number(row, col, float(v), f.money(values.get(c.currency), unit=c.kind == "unit_money"))
    elif c.kind in ("percent", "change_pct"):
        sheet.write_number(row, col, float(v) / 100.0, f.get("0.0%"))
    elif c.kind == "count":
        sheet.write_number(row, col, float(v), f.get("#,##0"))
    elif c.kind == "number" and isinstance(v, int | float | Decimal):
        sheet.write_number(row, col, float(v), f.get("#,##0.##"))
    elif isinstance(v, datetime):
        sheet.write_datetime(row, col, v.replace(tzinfo=None), f.get("yyyy-mm-dd hh:mm"))
    elif isinstance(v, date):
        sheet.write_datetime(row, col, datetime(v.year, v.month, v.day), f.get("yyyy-mm-dd"))
    else:
        sheet.write_string(row, col, neutralize(str(v))[:_XLSX_TEXT_LIMIT])


def _write_table(sheet: Worksheet, row: int, table: Table, f: _Formats) -> int:
    sheet.write_string(row, 0, table.title, f.get(None, bold=True, font_size=12))
    row += 1
    for col, c in enumerate(table.columns):
        sheet.write_string(row, col, c.header, f.get(None, bold=True, bg_color="#F4F6F9", bottom=1))
    row += 1
    if table.frame.is_empty():
        sheet.write_string(row, 0, table.empty, f.get(None, italic=True))
        return row + 2
    for values in table.frame.iter_rows(named=True):
        for col, c in enumerate(table.columns):
            _write_cell(sheet, row, col, c, values, f)
        row += 1
    return row + 1


def _sheet_name(name: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub("_", name)[:31] or "Sheet"
    out, n = base, 2
    while out.lower() in used:
        out = f"{base[:28]} {n}"
        n += 1
    used.add(out.lower())
    return out


def write_workbook(report: Report, path: Path) -> Path:
    """The workbook: one sheet per section (its sentences, then every row of each of its tables)."""
    book = xlsxwriter.Workbook(
        str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    f = _Formats(book)
    used: set[str] = set()
    try:
        for section in report.sections:
            sheet = book.add_worksheet(_sheet_name(section.sheet, used))
            sheet.set_column(0, 15, 18)
            sheet.write_string(0, 0, f"{section.title} — {report.period}", f.get(None, bold=True, font_size=14))
            row = 1
            for text in (*section.sentences, *section.notes):
                sheet.write_string(row, 0, neutralize(text)[:_XLSX_TEXT_LIMIT])
                row += 1
            row += 1
            for table in section.tables:
                row = _write_table(sheet, row, table, f)
    finally:
        book.close()
    return path
