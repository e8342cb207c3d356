"""Reading, verifying and approving cleanup plans: the checks every consumer of a plan runs first.

``verify_plan`` refuses (``PlanRefused``, one line naming the file) a plan that is not JSON, of
another ``plan_version``, invalid under the JSON Schema, from another warehouse, edited after
signing, older than ``plan_max_age_hours`` (or dated in the future), with an approval not signed by
this warehouse, or listing as an item a resource the current ``[cleanup]`` settings protect.
``approve_plan`` appends signed approvals by a named person; the audit log records each one.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import jsonschema  # type: ignore[import-untyped,unused-ignore]

from spendscope.errors import BadData, PlanRefused
from spendscope.exporters.cleanup.plan import PLAN_VERSION, PlanItem, protected_now
from spendscope.exporters.cleanup.settings import CleanupSettings
from spendscope.exporters.cleanup.signing import approval_signature, plan_signature, timestamp
from spendscope.warehouse.cleanup import AuditEvent, record_audit, warehouse_identity

__all__ = [
    "Approval",
    "VerifiedPlan",
    "approve_plan",
    "plan_schema",
    "read_plan_file",
    "verify_plan",
    "write_plan_file",
]

_FUTURE_SKEW = timedelta(minutes=5)


@cache
def plan_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of cleanup plans, version PLAN_VERSION."""
    text = resources.files(__package__).joinpath(f"cleanup-plan-v{PLAN_VERSION}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Approval:
    item_id: str
    by: str
    at: str


@dataclass(frozen=True)
class VerifiedPlan:
    """A plan that passed every check; ``items`` in plan order, ``approved`` item id → approvals."""

    plan: dict[str, Any]
    items: list[PlanItem]
    protected: list[PlanItem]
    approved: dict[str, list[Approval]]

    @property
    def plan_id(self) -> str:
        return str(self.plan["plan_id"])


def read_plan_file(path: Path) -> dict[str, Any]:
    """The plan in ``path`` as JSON data; PlanRefused when unreadable or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanRefused(f"cannot read the plan: {exc.strerror or exc}", source=str(path)) from exc
    except ValueError as exc:
        raise PlanRefused(f"not a JSON plan: {str(exc).splitlines()[0]}", source=str(path)) from exc
    if not isinstance(data, dict):
        raise PlanRefused("not a JSON plan: the top level is not an object", source=str(path))
    return data


def write_plan_file(plan: Mapping[str, Any], path: Path) -> None:
    """Write atomically (temporary file, then rename), so a reader never sees half a plan."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(plan, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def verify_plan(
    conn: duckdb.DuckDBPyConnection,
    plan: Mapping[str, Any],
    settings: CleanupSettings,
    *,
    now: datetime,
    source: str,
    actor: str | None = None,
) -> VerifiedPlan:
    """Every check of the module doc, in that order; the first failure raises PlanRefused and is
    recorded in the audit log (event plan_refused, with the plan id the file claims)."""
    try:
        return _verify(conn, plan, settings, now=now, source=source)
    except PlanRefused as exc:
        claimed = plan.get("plan_id")
        record_audit(
            conn,
            AuditEvent(
                event="plan_refused",
                decision="refused",
                at=now,
                plan_id=claimed if isinstance(claimed, str) else None,
                actor=actor,
                reason=str(exc),
            ),
        )
        raise


def _verify(
    conn: duckdb.DuckDBPyConnection,
    plan: Mapping[str, Any],
    settings: CleanupSettings,
    *,
    now: datetime,
    source: str,
) -> VerifiedPlan:
    version = plan.get("plan_version")
    if version != PLAN_VERSION:
        raise PlanRefused(
            f"plan_version {version!r} is not supported (this spendscope reads {PLAN_VERSION})", source=source
        )
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(plan_schema()).iter_errors(plan))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise PlanRefused(f"does not match the plan schema at {where}: {error.message[:300]}", source=source)
    identity = warehouse_identity(conn, now=now)
    if plan["warehouse_id"] != identity.warehouse_id:
        raise PlanRefused(
            f"made by another warehouse ({plan['warehouse_id']}); this one is {identity.warehouse_id}: "
            "make a new plan here with `spendscope cleanup plan`",
            source=source,
        )
    if not hmac.compare_digest(plan["signature"]["value"], plan_signature(plan, identity.key)):
        raise PlanRefused(
            "signature does not match: the plan was changed after `spendscope cleanup plan` "
            "(only `spendscope cleanup approve` may add to it)",
            source=source,
        )
    created = _parse_time(plan["created_at"])
    if created > now + _FUTURE_SKEW:
        raise PlanRefused(f"created_at {plan['created_at']} is in the future", source=source)
    age_h = (now - created).total_seconds() / 3600
    if age_h > settings.plan_max_age_hours:
        raise PlanRefused(
            f"stale: made {age_h:.1f} h ago, more than plan_max_age_hours = {settings.plan_max_age_hours:g}; "
            "make a new plan",
            source=source,
        )
    items = [PlanItem.model_validate(i) for i in plan["items"]]
    protected = [PlanItem.model_validate(i) for i in plan["protected"]]
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise PlanRefused("an item is listed twice", source=source)
    approved = _approvals(plan, identity.key, set(ids), source=source)
    now_protected = protected_now(items, settings)
    if now_protected:
        item_id, why = next(iter(now_protected.items()))
        resource = next(i.resource_id for i in items if i.id == item_id)
        raise PlanRefused(
            f"item {item_id[:12]} ({resource}) is protected: {why}; a plan must not list protected resources as items",
            source=source,
        )
    return VerifiedPlan(dict(plan), items, protected, approved)


def _approvals(plan: Mapping[str, Any], key: bytes, ids: set[str], *, source: str) -> dict[str, list[Approval]]:
    approved: dict[str, list[Approval]] = {}
    for a in plan["approvals"]:
        expected = approval_signature(key, plan_id=plan["plan_id"], item_id=a["item_id"], by=a["by"], at=a["at"])
        if not hmac.compare_digest(a["signature"], expected):
            raise PlanRefused(
                f"the approval of {a['item_id'][:12]} by {a['by']!r} is not signed by this warehouse: "
                "approve with `spendscope cleanup approve`",
                source=source,
            )
        if a["item_id"] not in ids:
            raise PlanRefused(f"an approval names {a['item_id'][:12]}, which is not an item of the plan", source=source)
        approved.setdefault(a["item_id"], []).append(Approval(a["item_id"], a["by"], a["at"]))
    return approved


def _resolve(verified: VerifiedPlan, wanted: Sequence[str], *, source: str) -> list[PlanItem]:
    """Items named by id, unique id prefix (at least 8 characters) or resource id."""
    chosen: list[PlanItem] = []
    for name in wanted:
        matches = [
            i
            for i in verified.items
            if i.id == name or i.resource_id == name or (len(name) >= 8 and i.id.startswith(name))
        ]
        if not matches:
            shielded = next((p for p in verified.protected if name in (p.id, p.resource_id)), None)
            if shielded is not None:
                raise BadData(f"{name} is protected ({shielded.protection}) and cannot be approved", source=source)
            raise BadData(
                f"no item {name!r} in the plan (give an item id, an id prefix or a resource id)", source=source
            )
        if len(matches) > 1:
            raise BadData(f"{name!r} names {len(matches)} items; give more of the id", source=source)
        chosen.append(matches[0])
    return chosen


def approve_plan(
    conn: duckdb.DuckDBPyConnection,
    plan: Mapping[str, Any],
    settings: CleanupSettings,
    *,
    by: str,
    items: Sequence[str] | None,
    now: datetime,
    source: str,
) -> tuple[dict[str, Any], list[PlanItem]]:
    """Append approvals by ``by`` for ``items`` (None: every item with an action) to a verified plan.

    Returns the new plan and the items newly approved (an item already approved by ``by`` is not
    approved twice). Items whose action is ``none`` cannot be approved.
    """
    name = by.strip()
    if not name:
        raise BadData("--by needs the approver's name", source=source)
    verified = verify_plan(conn, plan, settings, now=now, source=source, actor=name)
    chosen = _resolve(verified, items, source=source) if items else [i for i in verified.items if i.action != "none"]
    manual = [i for i in chosen if i.action == "none"]
    if manual:
        raise BadData(
            f"{manual[0].resource_id} has no automated action ({manual[0].kind}); it cannot be approved", source=source
        )
    identity = warehouse_identity(conn, now=now)
    at = timestamp(now)
    out = dict(verified.plan)
    approvals = list(out["approvals"])
    fresh = []
    for item in chosen:
        if any(a.by == name for a in verified.approved.get(item.id, [])) or item in fresh:
            continue
        signature = approval_signature(identity.key, plan_id=verified.plan_id, item_id=item.id, by=name, at=at)
        approvals.append({"item_id": item.id, "by": name, "at": at, "signature": signature})
        fresh.append(item)
    out["approvals"] = approvals
    for item in fresh:
        record_audit(
            conn,
            AuditEvent(
                event="approved",
                decision="approved",
                at=now,
                plan_id=verified.plan_id,
                item_id=item.id,
                provider=item.provider,
                account_id=item.account_id,
                region=item.region,
                resource_id=item.resource_id,
                action=item.action,
                actor=name,
            ),
        )
    return out, fresh
