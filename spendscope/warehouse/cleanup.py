"""Cleanup records in the warehouse: its identity (plan signing key), the audit log, rollback records.

The identity is created on first use with the ``secrets`` module: a random warehouse id (UUID 4),
printed in plans, and a 256-bit HMAC key that never leaves the warehouse. The audit log is
append-only: this module only ever inserts into ``cleanup_audit``; every write is its own statement,
so what was decided before a crash is kept.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import duckdb

from spendscope import sql
from spendscope.errors import WarehouseError

__all__ = ["AuditEvent", "Identity", "record_audit", "record_rollback", "warehouse_identity"]

Event = Literal["plan_created", "plan_refused", "approved", "apply_started", "item", "apply_finished"]


@dataclass(frozen=True, slots=True)
class Identity:
    warehouse_id: str
    key: bytes
    """HMAC-SHA256 key for plans and approvals; never printed, logged or written to a plan."""

    def __repr__(self) -> str:
        return f"Identity(warehouse_id={self.warehouse_id!r}, key=<hidden>)"


def warehouse_identity(conn: duckdb.DuckDBPyConnection, *, now: datetime) -> Identity:
    """The warehouse's id and plan key, created on first use (idempotent)."""
    row = conn.execute(sql.load("cleanup/identity_select")).fetchone()
    if row is None:
        conn.execute(
            sql.load("cleanup/identity_insert"),
            {"warehouse_id": str(uuid.uuid4()), "plan_key": secrets.token_hex(32), "now": now},
        )
        row = conn.execute(sql.load("cleanup/identity_select")).fetchone()
    if row is None:
        raise WarehouseError("could not record the warehouse identity", source="warehouse_identity")
    return Identity(str(row[0]), bytes.fromhex(str(row[1])))


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One row of ``cleanup_audit``. decision: created, refused, approved, started, would_act, acted,
    skipped, failed or finished; reason says why in one line (never a secret)."""

    event: Event
    decision: str
    at: datetime
    plan_id: str | None = None
    apply_id: str | None = None
    mode: Literal["dry_run", "execute"] | None = None
    item_id: str | None = None
    provider: str | None = None
    account_id: str | None = None
    region: str | None = None
    resource_id: str | None = None
    action: str | None = None
    reason: str | None = None
    actor: str | None = None
    details: Mapping[str, Any] | None = None


def record_audit(conn: duckdb.DuckDBPyConnection, event: AuditEvent) -> None:
    """Append ``event`` to the audit log (its own statement: kept even if a later step fails)."""
    params = {
        "at": event.at,
        "event": event.event,
        "plan_id": event.plan_id,
        "apply_id": event.apply_id,
        "mode": event.mode,
        "item_id": event.item_id,
        "provider": event.provider,
        "account_id": event.account_id,
        "region": event.region,
        "resource_id": event.resource_id,
        "action": event.action,
        "decision": event.decision,
        "reason": None if event.reason is None else event.reason[:1000],
        "actor": event.actor,
        "details": None if event.details is None else json.dumps(dict(event.details), sort_keys=True, default=str),
    }
    conn.execute(sql.load("cleanup/audit_insert"), params)


def record_rollback(
    conn: duckdb.DuckDBPyConnection,
    *,
    apply_id: str,
    plan_id: str,
    item: Mapping[str, Any],
    snapshot_id: str | None,
    restore: Mapping[str, Any],
    at: datetime,
) -> None:
    """Record how to restore a deleted resource (``item``: the plan item's fields)."""
    conn.execute(
        sql.load("cleanup/rollback_insert"),
        {
            "apply_id": apply_id,
            "plan_id": plan_id,
            "item_id": item["id"],
            "provider": item["provider"],
            "account_id": item.get("account_id"),
            "region": item.get("region"),
            "resource_id": item["resource_id"],
            "resource_type": item.get("resource_type"),
            "action": item["action"],
            "snapshot_id": snapshot_id,
            "restore": json.dumps(dict(restore), sort_keys=True, default=str),
            "at": at,
        },
    )
