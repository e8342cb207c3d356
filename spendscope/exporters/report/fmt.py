"""How the report writes numbers for people: money with its currency, percentages, changes with arrows.

Display only: the HTML keeps the exact figure beside each formatted one (``data-value``), the XLSX
stores numbers as numbers.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

__all__ = ["arrow", "clip", "money", "number", "percent", "signed_money", "signed_percent", "unit_money"]

Number = Decimal | float | int


def money(value: Number | None, currency: str | None) -> str:
    """``USD 1,234.56``; empty for None."""
    if value is None:
        return ""
    return f"{currency or '???'} {Decimal(value):,.2f}".replace("-", "−")


def signed_money(value: Number | None, currency: str | None) -> str:
    """``+USD 12.00`` / ``−USD 3.50``; no sign when it rounds to ``USD 0.00``."""
    if value is None:
        return ""
    v = Decimal(value).quantize(Decimal("0.01"))
    sign = "" if v == 0 else "−" if v < 0 else "+"
    return f"{sign}{currency or '???'} {abs(v):,.2f}"


def unit_money(value: Number | None, currency: str | None) -> str:
    """Cost per transaction: four significant digits, at least two decimals, never an exponent
    (``USD 0.0001234``, ``USD 0.0000001310``, ``USD 12.35``)."""
    if value is None:
        return ""
    v = Decimal(value)
    decimals = 2 if v == 0 else min(max(2, 3 - v.copy_abs().adjusted()), 18)
    return f"{currency or '???'} {v:,.{decimals}f}".replace("-", "−")


def number(value: Number | None, decimals: int = 0) -> str:
    if value is None:
        return ""
    return f"{Decimal(value):,.{decimals}f}".replace("-", "−")


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f} %".replace("-", "−")


def signed_percent(value: float | None) -> str:
    """``+12.5 %`` / ``−3.0 %``; no sign when it rounds to ``0.0 %``."""
    if value is None:
        return ""
    shown = round(value, 1)
    sign = "" if shown == 0 else "−" if shown < 0 else "+"
    return f"{sign}{abs(shown):,.1f} %"


def arrow(change_pct: float | None) -> str:
    """▲ for an increase, ▼ for a decrease, → for none (or less than 0.05 %)."""
    if change_pct is None or round(change_pct, 1) == 0:
        return "→"
    return "▲" if change_pct > 0 else "▼"


def clip(text: object, limit: int) -> str:
    """``text`` as a string of at most ``limit`` characters (``…`` marks a cut); None → empty."""
    if text is None:
        return ""
    s = text.isoformat() if isinstance(text, date | datetime) else str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"
