"""What a ticket says: orphans grouped per owner (or per account without one), and the texts.

Pure: ``ticket_groups`` takes the classified cleanup candidates (``classify_candidates``) and
returns one ``TicketGroup`` per group_key; the render functions turn a group, or the change between
what a ticket listed and what is orphaned now, into text. Money is shown per currency, never added
across currencies. Nothing here knows a credential.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

__all__ = ["Change", "TicketGroup", "TicketItem", "change_between", "money", "ticket_groups"]

_KIND = {
    "unattached_disk": "unattached disk",
    "unassociated_ip": "unassociated IP",
    "orphaned_snapshot": "snapshot of a deleted disk",
    "idle_load_balancer": "idle load balancer",
    "stopped_instance": "long-stopped instance",
}


def money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return "cost unknown"
    return f"{amount.quantize(Decimal('0.01')):,} {currency}"


@dataclass(frozen=True)
class TicketItem:
    fingerprint: str
    resource_id: str
    kind: str
    provider: str
    account_id: str | None
    region: str | None
    monthly_waste: Decimal | None
    currency: str | None
    note: str
    """The proposed action, or why the resource is protected."""

    def line(self) -> str:
        where = " / ".join(p for p in (self.provider, self.account_id, self.region) if p)
        cost = money(self.monthly_waste, self.currency)
        return f"{self.resource_id} ({_KIND.get(self.kind, self.kind)}, {where}): {cost}/month; {self.note}"

    def stored(self) -> dict[str, Any]:
        """What the tickets table keeps of the item (for the next change comment)."""
        return {
            "resource_id": self.resource_id,
            "kind": self.kind,
            "monthly_waste": None if self.monthly_waste is None else str(self.monthly_waste),
            "currency": self.currency,
        }


@dataclass(frozen=True)
class TicketGroup:
    group_key: str
    """owner:NAME or account:PROVIDER:ACCOUNT."""
    items: tuple[TicketItem, ...]

    @property
    def who(self) -> str:
        kind, _, rest = self.group_key.partition(":")
        return f"owner {rest}" if kind == "owner" else f"account {rest} (no owner tag)"

    def totals(self) -> list[tuple[str | None, Decimal | None, int]]:
        """(currency, monthly waste, resources) per currency; currency None: cost unknown."""
        out: dict[str | None, tuple[Decimal | None, int]] = {}
        for item in self.items:
            total, n = out.get(item.currency, (Decimal(0) if item.currency else None, 0))
            if total is not None and item.monthly_waste is not None:
                total += item.monthly_waste
            out[item.currency] = (total, n + 1)
        return [(c, t, n) for c, (t, n) in sorted(out.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))]

    def total_text(self) -> str:
        return ", ".join(money(t, c) if c else f"{n} of unknown cost" for c, t, n in self.totals())

    def title(self) -> str:
        n = len(self.items)
        return f"spendscope: {n} orphaned resource{'s' * (n != 1)} of {self.who}: {self.total_text()}/month"

    def stored(self) -> dict[str, dict[str, Any]]:
        return {i.fingerprint: i.stored() for i in self.items}

    def payload_sha256(self) -> str:
        """Digest of what the ticket lists: unchanged digest → nothing to tell the sink."""
        return hashlib.sha256(json.dumps(self.stored(), sort_keys=True).encode()).hexdigest()

    def lines(self, limit: int) -> list[str]:
        shown = [i.line() for i in self.items[:limit]]
        if len(self.items) > limit:
            shown.append(f"… and {len(self.items) - limit} more (see `spendscope cleanup plan`)")
        return shown

    def intro(self) -> str:
        n = len(self.items)
        return (
            f"spendscope found {n} orphaned resource{'s' * (n != 1)} of {self.who}, "
            f"wasting {self.total_text()} per month."
        )


FOOTER = (
    "Kept up to date by `spendscope tickets sync`: changes are added as comments, and the ticket closes "
    "when every resource above is gone. Resources tagged as protected are never cleaned up automatically."
)


@dataclass(frozen=True)
class Change:
    added: list[TicketItem]
    gone: list[dict[str, Any]]
    repriced: list[tuple[TicketItem, dict[str, Any]]]

    def text(self, group: TicketGroup) -> str:
        lines = ["Orphaned resources changed since the last update:"]
        lines += [f"- new: {i.line()}" for i in self.added]
        lines += [f"- gone: {g['resource_id']} ({_KIND.get(g['kind'], g['kind'])})" for g in self.gone]
        for item, before in self.repriced:
            old = None if before["monthly_waste"] is None else Decimal(before["monthly_waste"])
            lines.append(
                f"- cost: {item.resource_id} {money(old, before['currency'])} → "
                f"{money(item.monthly_waste, item.currency)}/month"
            )
        lines.append(f"Now: {len(group.items)} resources, {group.total_text()}/month.")
        return "\n".join(lines)


def change_between(previous: dict[str, dict[str, Any]], group: TicketGroup) -> Change:
    """What changed from what a ticket listed (``TicketGroup.stored`` of the last sync) to ``group``."""
    now = {i.fingerprint: i for i in group.items}
    added = [i for f, i in now.items() if f not in previous]
    gone = [previous[f] for f in sorted(previous) if f not in now]
    repriced = [
        (i, previous[f])
        for f, i in now.items()
        if f in previous
        and (previous[f]["monthly_waste"], previous[f]["currency"]) != (i.stored()["monthly_waste"], i.currency)
    ]
    return Change(added, gone, repriced)


def ticket_groups(classified: pl.DataFrame) -> list[TicketGroup]:
    """One group per group_key of the classified candidates (items and protected alike), sorted."""
    groups: dict[str, list[TicketItem]] = {}
    ordered = classified.sort(
        ["group_key", "currency", "monthly_waste", "resource_id"],
        descending=[False, False, True, False],
        nulls_last=True,
    )
    for row in ordered.to_dicts():
        if row["protection"] is not None:
            note = f"protected ({row['protection']}): not cleaned up"
        elif row["action"] == "none":
            note = "no automated action: please review"
        else:
            note = f"proposed: {row['action'].replace('_', ' ')}"
        groups.setdefault(row["group_key"], []).append(
            TicketItem(
                fingerprint=row["id"],
                resource_id=row["resource_id"],
                kind=row["kind"],
                provider=row["provider"],
                account_id=row["account_id"],
                region=row["region"],
                monthly_waste=row["monthly_waste"],
                currency=row["currency"],
                note=note,
            )
        )
    return [TicketGroup(key, tuple(items)) for key, items in sorted(groups.items())]
