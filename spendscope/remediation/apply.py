"""`spendscope cleanup apply`: act on a verified plan's approved items, slowly, within caps, with a record.

Gates, per item in plan order (the first that applies decides, and the audit log gets one row):

1. not approved (no signed approval in the plan) → skipped;
2. action ``none`` (no automated action) → skipped;
3. an earlier action failed in this apply → skipped (a failure stops the run);
4. ``max_actions`` reached, or the item would take the currency's removed monthly waste above
   ``max_monthly_cost`` (or that currency has no cap) → skipped;
5. no executor for the provider → skipped;
6. re-check right before acting: gone, state changed (attached / associated / targets again), or
   tags different from the plan's → skipped;
7. otherwise: dry-run → ``would_act``; ``execute`` → ``acted`` (paced at ``rate_per_second``; a
   rollback record is written) or ``failed``.

Dry-run (the default) makes the same read-only checks and counts the caps as if it acted, so it
shows what an execute would do; it changes nothing in the cloud. Every decision, the start and the
end of each apply are appended to ``cleanup_audit`` as they happen.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import duckdb

from spendscope.errors import ConfigError, RemediationError
from spendscope.exporters.cleanup.plan import PlanItem
from spendscope.exporters.cleanup.settings import CleanupSettings
from spendscope.exporters.cleanup.verify import VerifiedPlan
from spendscope.remediation import EXECUTORS, Executor, ExecutorOptions
from spendscope.warehouse.cleanup import AuditEvent, record_audit, record_rollback

__all__ = ["ApplyResult", "Decision", "apply_plan", "tag_changes"]

log = logging.getLogger(__name__)

DecisionKind = Literal["would_act", "acted", "skipped", "failed"]
Mode = Literal["dry_run", "execute"]


@dataclass(frozen=True)
class Decision:
    item: PlanItem
    decision: DecisionKind
    reason: str
    snapshot_id: str | None = None


@dataclass(frozen=True)
class ApplyResult:
    apply_id: str
    plan_id: str
    mode: Mode
    decisions: list[Decision] = field(default_factory=list)

    def count(self, decision: DecisionKind) -> int:
        return sum(1 for d in self.decisions if d.decision == decision)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0


class _Pacer:
    """At most ``rate`` actions per second: waits before an action until 1/rate has passed."""

    def __init__(self, rate: float, *, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._interval = 1.0 / rate
        self._clock, self._sleep = clock, sleep
        self._last: float | None = None

    def wait(self) -> None:
        if self._last is not None:
            remaining = self._last + self._interval - self._clock()
            if remaining > 0:
                self._sleep(remaining)
        self._last = self._clock()


def _text(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def tag_changes(planned: Mapping[str, str], live: Mapping[str, str]) -> str | None:
    """One line naming added, removed and changed tag keys; None when the tags are the same."""
    added = sorted(set(live) - set(planned))
    removed = sorted(set(planned) - set(live))
    changed = sorted(k for k in set(planned) & set(live) if planned[k] != live[k])
    parts = [
        f"{name} {', '.join(keys)}"
        for name, keys in (("added", added), ("removed", removed), ("changed", changed))
        if keys
    ]
    return "; ".join(parts) or None


def _executors(options: ExecutorOptions, providers: set[str]) -> dict[str, Executor]:
    found = {}
    for provider in sorted(providers):
        try:
            factory = EXECUTORS.get(provider)
        except ConfigError:
            continue  # no executor for this provider: its items are skipped with a reason
        found[provider] = factory(options)
    return found


def apply_plan(
    conn: duckdb.DuckDBPyConnection,
    verified: VerifiedPlan,
    settings: CleanupSettings,
    *,
    execute: bool,
    actor: str | None = None,
    endpoint_url: str | None = None,
    executors: Mapping[str, Executor] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ApplyResult:
    """Run the gates of the module doc over ``verified`` (from ``verify_plan``); dry-run unless ``execute``.

    ``executors`` (provider → Executor) replaces the registered ones (tests); ``endpoint_url`` is
    passed to the registered ones (moto). Returns every decision, in plan order.
    """
    mode: Mode = "execute" if execute else "dry_run"
    result = ApplyResult(str(uuid.uuid4()), verified.plan_id, mode)
    if executors is None:
        options = ExecutorOptions(endpoint_url=endpoint_url, snapshot_wait_s=settings.snapshot_wait_s)
        executors = _executors(options, {i.provider for i in verified.items if i.id in verified.approved})
    pacer = _Pacer(settings.rate_per_second, clock=clock, sleep=sleep)

    def audit(
        event: Literal["apply_started", "item", "apply_finished"],
        decision: str,
        reason: str,
        item: PlanItem | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        record_audit(
            conn,
            AuditEvent(
                event=event,
                decision=decision,
                at=datetime.now(UTC),
                plan_id=result.plan_id,
                apply_id=result.apply_id,
                mode=mode,
                item_id=item.id if item else None,
                provider=item.provider if item else None,
                account_id=item.account_id if item else None,
                region=item.region if item else None,
                resource_id=item.resource_id if item else None,
                action=item.action if item else None,
                reason=reason,
                actor=actor,
                details=details,
            ),
        )

    audit("apply_started", "started", f"{len(verified.items)} items, {len(verified.approved)} approved")
    actions = 0
    removed: dict[str, Decimal] = {}
    stopped: str | None = None
    for item in verified.items:
        decision = _decide(item, verified, settings, executors, actions=actions, removed=removed, stopped=stopped)
        if decision is None:  # every gate passed
            cost = item.monthly_waste or Decimal(0)
            actions += 1
            if item.currency is not None:
                removed[item.currency] = removed.get(item.currency, Decimal(0)) + cost
            if not execute:
                decision = Decision(item, "would_act", f"dry run: would {item.action.replace('_', ' ')}")
            else:
                pacer.wait()
                decision = _act(conn, executors[item.provider], item, result)
                if decision.decision == "failed":
                    stopped = f"stopped: the action on {item.resource_id} failed"
        result.decisions.append(decision)
        audit(
            "item",
            decision.decision,
            decision.reason,
            item,
            details={
                "approved_by": [a.by for a in verified.approved.get(item.id, [])],
                "monthly_waste": None if item.monthly_waste is None else str(item.monthly_waste),
                "currency": item.currency,
                "snapshot_id": decision.snapshot_id,
            },
        )
    summary = ", ".join(f"{k} {result.count(k)}" for k in ("would_act", "acted", "skipped", "failed"))
    audit("apply_finished", "finished", summary)
    log.info("cleanup apply plan=%s apply=%s mode=%s %s", result.plan_id, result.apply_id, mode, summary)
    return result


def _decide(
    item: PlanItem,
    verified: VerifiedPlan,
    settings: CleanupSettings,
    executors: Mapping[str, Executor],
    *,
    actions: int,
    removed: Mapping[str, Decimal],
    stopped: str | None,
) -> Decision | None:
    """The skip decision of the first gate that applies (module doc, 1–6), or None to act."""
    if item.id not in verified.approved:
        return Decision(item, "skipped", "not approved")
    if item.action == "none":
        return Decision(item, "skipped", f"no automated action for {item.kind}")
    if stopped is not None:
        return Decision(item, "skipped", stopped)
    if actions >= settings.max_actions:
        return Decision(item, "skipped", f"max_actions = {settings.max_actions} reached")
    if item.currency is not None:
        cap = settings.max_monthly_cost.get(item.currency)
        if cap is None:
            return Decision(item, "skipped", f"no max_monthly_cost for {item.currency}")
        after = removed.get(item.currency, Decimal(0)) + (item.monthly_waste or Decimal(0))
        if after > cap:
            return Decision(
                item,
                "skipped",
                f"would remove {_text(after)} {item.currency}/month in this apply, above max_monthly_cost {_text(cap)}",
            )
    executor = executors.get(item.provider)
    if executor is None:
        return Decision(
            item, "skipped", f"no cleanup executor for {item.provider} (implemented: {', '.join(EXECUTORS.names())})"
        )
    try:
        live = executor.check(item)
    except RemediationError as exc:
        return Decision(item, "skipped", f"could not re-check: {exc}")
    if live.changed is not None:
        return Decision(item, "skipped", f"changed since the plan: {live.changed}")
    changes = tag_changes(item.tags, live.tags or {})
    if changes is not None:
        return Decision(item, "skipped", f"tags changed since the plan: {changes}")
    return None


def _act(conn: duckdb.DuckDBPyConnection, executor: Executor, item: PlanItem, result: ApplyResult) -> Decision:
    try:
        outcome = executor.act(item, plan_id=result.plan_id)
    except RemediationError as exc:
        log.warning("cleanup action failed resource=%s error=%s", item.resource_id, exc)
        return Decision(item, "failed", str(exc))
    record_rollback(
        conn,
        apply_id=result.apply_id,
        plan_id=result.plan_id,
        item=item.model_dump(),
        snapshot_id=outcome.snapshot_id,
        restore=outcome.restore,
        at=datetime.now(UTC),
    )
    done = item.action.replace("_", " ")
    reason = f"{done}: snapshot {outcome.snapshot_id}" if outcome.snapshot_id else done
    return Decision(item, "acted", reason, snapshot_id=outcome.snapshot_id)
