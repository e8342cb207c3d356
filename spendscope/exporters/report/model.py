"""The report as data: sections of sentences, charts (SVG) and tables (a frame plus typed columns).

One model feeds both outputs: render.py turns a Table into HTML cells (formatted text, exact value in
``data-value``), extracts.py into XLSX cells (numbers with the currency's number format).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

__all__ = ["Chart", "Column", "Kind", "Report", "Section", "Table"]

Kind = Literal["text", "date", "count", "number", "money", "signed_money", "unit_money", "percent", "change_pct"]
"""money / signed_money / unit_money take their currency from ``Column.currency``; change_pct shows an
arrow and "new" when the previous value was zero (``Column.ref`` names the absolute change)."""


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    kind: Kind = "text"
    currency: str = "currency"
    """Column holding the ISO 4217 code of a money column's row."""
    ref: str = "change"
    """For change_pct: the column holding the absolute change."""
    chars: int | None = None
    """For text: the longest text shown (default: the report's label_chars)."""


@dataclass(frozen=True)
class Table:
    key: str
    """Stable id: ``data-table`` in HTML, the block title in the XLSX sheet."""
    title: str
    columns: tuple[Column, ...]
    frame: pl.DataFrame
    """Every row (the XLSX writes them all)."""
    empty: str
    """What the page says instead of an empty table (why it is empty, what to run)."""
    shown: pl.DataFrame | None = None
    """The rows the HTML shows, when fewer than ``frame`` (a note says how many more the XLSX has)."""

    @property
    def html_rows(self) -> pl.DataFrame:
        return self.frame if self.shown is None else self.shown

    @property
    def hidden(self) -> int:
        return self.frame.height - self.html_rows.height


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    sheet: str
    """XLSX sheet name (at most 31 characters)."""
    sentences: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    title: str
    period: str
    complete: bool
    """False when the month's usage is not complete yet (figures are month to date)."""
    subtitle: str
    generated_at: str
    sections: list[Section]

    def table(self, key: str) -> Table:
        for s in self.sections:
            for t in s.tables:
                if t.key == key:
                    return t
        raise KeyError(key)
