"""Acting on approved cleanup plans: the only spendscope code that changes cloud resources.

One executor per provider behind the small ``Executor`` protocol: ``check`` re-reads a resource
right before acting (has it changed since the plan: attached again, tags changed, gone?) and
``act`` performs the plan's action and says how to undo it. ``spendscope.remediation.apply`` holds
the safety gates (approval, caps, rate, re-check, audit, rollback records) shared by every provider.

Executors are registered lazily by provider name (``EXECUTORS``), so an AWS-only run never imports
another cloud's SDK. Implemented: ``aws``. Azure and GCP items are skipped by apply with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from spendscope.exporters.cleanup.plan import PlanItem
from spendscope.registry import Registry

__all__ = ["EXECUTORS", "Executor", "ExecutorFactory", "ExecutorOptions", "LiveState", "Outcome"]


@dataclass(frozen=True)
class LiveState:
    """A resource as it is now. ``changed``: why it no longer matches the plan (None: as planned);
    ``tags``: its current tags (None when it is gone)."""

    changed: str | None
    tags: dict[str, str] | None


@dataclass(frozen=True)
class Outcome:
    """What an action did: the snapshot taken first (volumes) and how to restore the resource."""

    snapshot_id: str | None
    restore: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    """Cleanup actions of one provider. Both methods raise RemediationError naming the API call."""

    provider: str

    def check(self, item: PlanItem) -> LiveState: ...

    def act(self, item: PlanItem, *, plan_id: str) -> Outcome: ...


@dataclass(frozen=True)
class ExecutorOptions:
    endpoint_url: str | None = None
    """For emulators (moto); every service of the provider."""
    snapshot_wait_s: float = 900.0
    """How long to wait for the snapshot taken before a volume is deleted."""


ExecutorFactory = Callable[[ExecutorOptions], Executor]

EXECUTORS: Registry[ExecutorFactory] = Registry("cleanup executor", lazy={"aws": "spendscope.remediation.aws"})
