"""Figures the reliability and security suites measure, printed once at the end of the run (issue 13's summary).

A test records a figure with the ``figures`` fixture (``figures["crash trials survived"] = "30 / 30"``), or counts
one trial with ``with trial("network faults S3 …"):`` — the trial counts as passed only when its block finishes,
so a failing test shows up as ``4 / 5``. Both suites' conftests print the table, whichever of them pytest loaded,
and only once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

FIGURES: dict[str, str] = {}
TRIALS: dict[str, list[int]] = {}  # name -> [passed, tried]
_printed: list[bool] = []


@contextmanager
def trial(name: str) -> Iterator[None]:
    """Count one trial under ``name``; it passed when the block ends without an exception."""
    counts = TRIALS.setdefault(name, [0, 0])
    counts[1] += 1
    yield
    counts[0] += 1


def print_summary(reporter: pytest.TerminalReporter) -> None:
    if not (FIGURES or TRIALS) or _printed:
        return
    _printed.append(True)
    reporter.section("reliability and security figures")
    for name, value in FIGURES.items():
        reporter.write_line(f"{name}: {value}")
    for name, (passed, tried) in TRIALS.items():
        reporter.write_line(f"{name}: {passed} / {tried}")
