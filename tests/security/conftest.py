"""Fixtures of the security suite; its figures join the reliability suite's table (see reliability/figures.py)."""

from __future__ import annotations

import pytest

from tests.reliability.figures import FIGURES, print_summary


@pytest.fixture
def figures() -> dict[str, str]:
    return FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    print_summary(terminalreporter)
