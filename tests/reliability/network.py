"""The shape every network-fault test shares: a fault between a collector and its emulator, then recovery.

``fault_then_resume`` runs the collector through a ``FaultProxy`` injecting ``fault`` on requests whose path
contains ``target``; the run must fail with ONE line naming ``names`` (a location or container) and change
nothing stored (``snapshot``); with the fault lifted, the next run must load. The caller asserts what is
store-specific (which call is named, how many faulted requests its SDK's retry policy made, Throttled or not).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pytest

from spendscope.errors import SpendscopeError, Throttled

from ..conftest import snapshot
from .faultproxy import FaultProxy


@dataclass(frozen=True)
class Outcome:
    error: SpendscopeError
    faulted: int  # requests the proxy answered with the fault (the first attempt and the SDK's retries)
    seen: list[str]  # request lines, in order
    seconds: float  # from the run's start to its error

    @property
    def message(self) -> str:
        return str(self.error)


def fault_then_resume(
    wh: duckdb.DuckDBPyConnection,
    upstream_url: str,
    run: Callable[[str], list[str]],
    *,
    fault: str,
    target: str,
    names: str,
) -> Outcome:
    """``run(url)`` ingests through the proxy at ``url`` and returns each source's load status."""
    before = snapshot(wh)
    with FaultProxy(upstream_url) as proxy:
        proxy.set(fault, target)
        started = time.monotonic()
        with pytest.raises(SpendscopeError) as info:
            run(proxy.url)
        seconds = time.monotonic() - started
        message = str(info.value)
        assert "\n" not in message and names in message, message
        if fault in ("503", "429"):  # throttling: the next scheduled run retries
            assert isinstance(info.value, Throttled), message
        if fault == "stall":
            assert seconds < 30, seconds  # the configured timeouts, not the SDK's minutes
            assert "timeout" in message.lower() or "timed out" in message.lower(), message
        assert snapshot(wh) == before
        outcome = Outcome(info.value, proxy.state.faulted, list(proxy.state.seen), seconds)
        proxy.set(None)
        assert run(proxy.url) == ["loaded"]
    return outcome
