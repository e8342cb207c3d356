"""Figures the reliability and security suites measure, printed once at the end of the run (issue 13's summary).

A test records a figure with the ``figures`` fixture (``figures["crash trials survived"] = "30 / 30"``); both
suites' conftests print the table, whichever of them pytest loaded, and only once.
"""

from __future__ import annotations

import pytest

FIGURES: dict[str, str] = {}
_printed: list[bool] = []


def print_summary(reporter: pytest.TerminalReporter) -> None:
    if not FIGURES or _printed:
        return
    _printed.append(True)
    reporter.section("reliability and security figures")
    for name, value in FIGURES.items():
        reporter.write_line(f"{name}: {value}")
