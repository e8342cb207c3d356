"""Fixtures of the reliability suite; its figures are printed at the end of the run (see figures.py)."""

from __future__ import annotations

import pytest

from .figures import FIGURES, print_summary


@pytest.fixture
def figures() -> dict[str, str]:
    return FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    print_summary(terminalreporter)
