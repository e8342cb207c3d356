"""HTML rendering: the Report model through a Jinja2 template with autoescape on.

Each table cell carries its formatted text and, for numbers, the exact figure in ``data-value``
(Decimal as written by the warehouse, floats as Python's repr), so a test or a script can check the
page against the warehouse. Text cells are clipped to ``label_chars`` (the full text is in ``title``,
itself clipped to 1,000 characters). Jinja2 escapes every value; the SVG charts are the only markup
passed through (``Markup``), and they come from vl-convert, which escapes the text it draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import jinja2
from markupsafe import Markup

from spendscope.exporters.report import fmt
from spendscope.exporters.report.model import Column, Report, Table

__all__ = ["Cell", "render_html", "table_cells"]

_TITLE_CHARS = 1000


@dataclass(frozen=True)
class Cell:
    text: str
    value: str | None = None
    css: str = ""
    title: str | None = None


def _exact(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _cell(col: Column, row: dict[str, Any], label_chars: int) -> Cell:
    v = row.get(col.name)
    cur = row.get(col.currency)
    if col.kind == "text":
        text = fmt.clip(v, col.chars or label_chars)
        full = "" if v is None else str(v)
        css = "short" if len(text) <= 20 else "long" if len(text) > 40 else ""
        return Cell(text, css=css, title=full[:_TITLE_CHARS] if len(full) > len(text) else None)
    if col.kind == "date":
        return Cell(fmt.clip(v, 40), _exact(v), "date")
    if v is None:
        return Cell("", None, "num")
    if col.kind == "money":
        return Cell(fmt.money(v, cur), _exact(v), "num money")
    if col.kind == "signed_money":
        return Cell(fmt.signed_money(v, cur), _exact(v), "num money " + _direction(v))
    if col.kind == "unit_money":
        return Cell(fmt.unit_money(v, cur), _exact(v), "num money")
    if col.kind == "count":
        return Cell(fmt.number(v), _exact(v), "num")
    if col.kind == "number":
        decimals = 0 if isinstance(v, int) or (isinstance(v, Decimal | float) and v == int(v)) else 2
        return Cell(fmt.number(v, decimals), _exact(v), "num")
    if col.kind == "percent":
        return Cell(fmt.percent(float(v)), _exact(v), "num")
    raise ValueError(f"unknown column kind {col.kind!r}")


def _direction(v: object) -> str:
    """up / down / flat for a money change, by the cents it shows."""
    if not isinstance(v, Decimal | float | int) or round(v, 2) == 0:
        return "flat"
    return "up" if v > 0 else "down"


def _change_cell(col: Column, row: dict[str, Any]) -> Cell:
    pct, change = row.get(col.name), row.get(col.ref)
    if pct is None:
        text = "new" if change not in (None, 0) else "→ 0.0 %" if change == 0 else ""
        return Cell(text, None, "num " + _direction(change))
    way = "flat" if fmt.arrow(pct) == "→" else "up" if pct > 0 else "down"
    return Cell(f"{fmt.arrow(pct)} {fmt.signed_percent(pct)}", _exact(pct), "num " + way)


def table_cells(table: Table, *, label_chars: int) -> list[list[Cell]]:
    """The HTML rows of ``table``: one Cell per column."""
    out = []
    for row in table.html_rows.iter_rows(named=True):
        out.append(
            [_change_cell(c, row) if c.kind == "change_pct" else _cell(c, row, label_chars) for c in table.columns]
        )
    return out


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("spendscope.exporters.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_html(report: Report, *, label_chars: int) -> str:
    """The self-contained page (UTF-8; inline CSS and SVG; a CSP that forbids scripts and fetches)."""
    template = _environment().get_template("report.html.j2")
    cells = {t.key: table_cells(t, label_chars=label_chars) for s in report.sections for t in s.tables}
    svgs = {s.key: [Markup(c.svg) for c in s.charts] for s in report.sections}  # noqa: S704 - vl-convert escapes text  # nosec B704
    return template.render(report=report, cells=cells, svgs=svgs)
