"""Plan and approval signatures: HMAC-SHA256 with the warehouse's key over canonical JSON.

Canonical JSON is ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8; plans hold no floats (money is decimal text), so any language reproduces it.
The plan signature covers every field but ``signature`` and ``approvals``; each approval is signed
on its own (plan id, item id, name, time), so approvals can be appended without re-signing the plan
and cannot be forged without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["UNSIGNED_FIELDS", "approval_signature", "canonical", "plan_signature", "sign_plan", "timestamp"]

UNSIGNED_FIELDS = frozenset({"signature", "approvals"})


def timestamp(at: datetime) -> str:
    """RFC 3339 in UTC with microseconds, as plans write times."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def plan_signature(plan: Mapping[str, Any], key: bytes) -> str:
    """Hex HMAC-SHA256 of the plan without its signature and approvals."""
    body = {k: v for k, v in plan.items() if k not in UNSIGNED_FIELDS}
    return hmac.new(key, canonical(body), hashlib.sha256).hexdigest()


def approval_signature(key: bytes, *, plan_id: str, item_id: str, by: str, at: str) -> str:
    message = canonical({"plan_id": plan_id, "item_id": item_id, "by": by, "at": at})
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_plan(body: Mapping[str, Any], key: bytes) -> dict[str, Any]:
    """``body`` with its signature and an empty approvals list."""
    plan = {k: v for k, v in body.items() if k not in UNSIGNED_FIELDS}
    plan["signature"] = {"algorithm": "hmac-sha256", "value": plan_signature(plan, key)}
    plan["approvals"] = []
    return plan
