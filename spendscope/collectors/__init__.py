"""Collectors read billing exports and inventories; they never write the warehouse or compute reports.

A billing source has one method, ``fetch(period, describe=...)``: it returns a ``LoadRequest``, the
files to load and how to read each as FOCUS rows. The warehouse loads it (``warehouse.load``).
Collectors register by name in ``COLLECTORS`` and are imported lazily, one module per provider.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from spendscope.registry import Registry
from spendscope.warehouse.files import SourceFile
from spendscope.warehouse.load import LoadRequest

Describe = Callable[[list[Path]], list[SourceFile]]
"""Turns local paths into SourceFile records (size, mtime, checksum; the warehouse caches them)."""


class BillingSource(Protocol):
    source: str
    """The ledger's source name: the unit of replacement together with the billing period."""
    collector: str
    """The registered collector name (recorded in the ledger)."""

    def fetch(self, period: str | None, *, describe: Describe) -> LoadRequest: ...


COLLECTORS: Registry[type[BillingSource]] = Registry(
    "collector",
    lazy={"focus": "spendscope.collectors.focus"},
)
