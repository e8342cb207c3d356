"""`spendscope tickets sync`: one ticket per owner in each configured sink, kept current.

The orphan findings are classified like a cleanup plan (``classify_candidates``: owner, action,
protection) and grouped per owner, or per account without one (``ticket_groups``). Then, per sink
and group, ``plan_ticket_actions`` decides (pure):

- no open ticket for the group → ``create``;
- an open ticket whose listed orphans (fingerprints, waste) differ → ``update`` (a comment saying
  what changed: new, gone, repriced);
- an open ticket whose listed orphans are the same → ``unchanged`` (no call);
- an open ticket whose group has no orphans left → ``close`` (with a note naming what went away).

At most ``max_per_run`` create/update/close operations run per sync (creates first, then updates,
then closes); the rest are ``deferred`` to the next sync. ``delay_s`` separates two operations.
Each operation is recorded in ``tickets`` as soon as the sink accepted it. ``dry_run`` decides
and returns the same actions without any HTTP call or warehouse write.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import duckdb
import polars as pl

from spendscope.analysis.allocation import AllocationRules
from spendscope.errors import ConfigError
from spendscope.exporters.cleanup.plan import classify_candidates, read_candidates
from spendscope.exporters.cleanup.settings import CleanupSettings
from spendscope.exporters.tickets.content import TicketGroup, change_between, ticket_groups
from spendscope.exporters.tickets.http import TicketSink
from spendscope.exporters.tickets.settings import TicketSettings
from spendscope.warehouse.tickets import open_tickets, record_closed, record_created, record_updated

__all__ = ["TicketAction", "make_sinks", "plan_ticket_actions", "sync_tickets"]

log = logging.getLogger(__name__)

Verb = Literal["create", "update", "close", "unchanged", "deferred"]
_ORDER = {"create": 0, "update": 1, "close": 2}


@dataclass(frozen=True)
class TicketAction:
    sink: str
    group_key: str
    action: Verb
    detail: str
    """One line: the title, what changed, or why deferred."""
    external_id: str | None = None
    url: str | None = None
    group: TicketGroup | None = None
    text: str | None = None
    """The update comment or closing note."""


def plan_ticket_actions(
    groups: list[TicketGroup], tickets: pl.DataFrame, sinks: list[str], *, max_per_run: int
) -> list[TicketAction]:
    """What each sink needs (module doc), in the order they run; pure.

    ``tickets`` has the columns of ``warehouse.tickets.open_tickets`` (open tickets only).
    """
    by_key = {g.group_key: g for g in groups}
    planned: list[TicketAction] = []
    for sink in sinks:
        open_rows = {r["group_key"]: r for r in tickets.filter(pl.col("sink") == sink).to_dicts()}
        for key, group in by_key.items():
            row = open_rows.get(key)
            if row is None:
                planned.append(TicketAction(sink, key, "create", group.title(), group=group))
            elif row["payload_sha256"] == group.payload_sha256():
                planned.append(TicketAction(sink, key, "unchanged", "no change", row["external_id"], row["url"], group))
            else:
                text = change_between(json.loads(row["items"] or "{}"), group).text(group)
                planned.append(
                    TicketAction(
                        sink, key, "update", text.splitlines()[-1], row["external_id"], row["url"], group, text
                    )
                )
        for key, row in open_rows.items():
            if key in by_key:
                continue
            gone = json.loads(row["items"] or "{}")
            names = ", ".join(sorted(v["resource_id"] for v in gone.values()))
            note = f"Resolved: every orphaned resource of this ticket is gone ({names}). Closed by spendscope."
            planned.append(
                TicketAction(
                    sink,
                    key,
                    "close",
                    f"{len(gone)} resources gone",
                    row["external_id"],
                    row["url"],
                    TicketGroup(key, ()),
                    note,
                )
            )
    planned.sort(key=lambda a: (_ORDER.get(a.action, 3), a.sink, a.group_key))
    out, budget = [], max_per_run
    for a in planned:
        if a.action in _ORDER:
            if budget == 0:
                a = replace(a, action="deferred", detail=f"{a.action} deferred: max_per_run = {max_per_run} reached")
            else:
                budget -= 1
        out.append(a)
    return out


def make_sinks(settings: TicketSettings) -> dict[str, TicketSink]:
    """The configured sinks, by name (imports requests only when a sink is configured)."""
    sinks: dict[str, TicketSink] = {}
    if settings.jira is not None:
        from spendscope.exporters.tickets.jira import JiraTickets

        sinks["jira"] = JiraTickets(settings.jira, settings)
    if settings.github is not None:
        from spendscope.exporters.tickets.github import GitHubTickets

        sinks["github"] = GitHubTickets(settings.github, settings)
    if settings.servicenow is not None:
        from spendscope.exporters.tickets.servicenow import ServiceNowTickets

        sinks["servicenow"] = ServiceNowTickets(settings.servicenow, settings)
    if settings.webhook is not None:
        from spendscope.exporters.tickets.webhook import WebhookTickets

        sinks["webhook"] = WebhookTickets(settings.webhook, settings)
    return sinks


def sync_tickets(
    conn: duckdb.DuckDBPyConnection,
    settings: TicketSettings,
    *,
    cleanup: CleanupSettings,
    now: datetime,
    allocation: AllocationRules | None = None,
    dry_run: bool = False,
    sinks: Mapping[str, TicketSink] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[TicketAction]:
    """Bring every configured sink's tickets in line with the orphan findings (module doc).

    ``sinks`` replaces the configured ones (tests); raises ConfigError when none is configured and
    ExporterError (one line, no secret) when a sink fails: what was done before is kept.
    """
    chosen: Mapping[str, Any] = sinks if sinks is not None else {}
    names = list(chosen) if sinks is not None else settings.configured()
    if not names:
        raise ConfigError(
            "no ticket sink configured: set [tickets.jira], [tickets.github], [tickets.servicenow] or [tickets.webhook]"
        )
    classified = classify_candidates(read_candidates(conn).lazy(), cleanup, now=now, allocation=allocation).collect()
    actions = plan_ticket_actions(
        ticket_groups(classified), open_tickets(conn), names, max_per_run=settings.max_per_run
    )
    if dry_run:
        return actions
    if sinks is None:
        chosen = make_sinks(settings)
    first = True
    for n, a in enumerate(actions):
        if a.action not in _ORDER:
            continue
        if not first and settings.delay_s:
            sleep(settings.delay_s)
        first = False
        actions[n] = _run(conn, chosen[a.sink], a, now=now)
    log.info(
        "tickets sync %s",
        ", ".join(
            f"{v}={sum(a.action == v for a in actions)}" for v in ("create", "update", "close", "unchanged", "deferred")
        ),
    )
    return actions


def _run(conn: duckdb.DuckDBPyConnection, sink: TicketSink, a: TicketAction, *, now: datetime) -> TicketAction:
    """Perform one operation and record it; returns the action with the ticket id a create got."""
    group = a.group
    assert group is not None
    if a.action == "create":
        created = sink.create(group)
        a = replace(a, external_id=created.external_id, url=created.url)
        record_created(
            conn,
            sink=a.sink,
            group_key=a.group_key,
            external_id=created.external_id,
            url=created.url,
            items=group.stored(),
            payload_sha256=group.payload_sha256(),
            now=now,
        )
    elif a.action == "update":
        sink.update(a.external_id, group, a.text or "")
        record_updated(
            conn,
            sink=a.sink,
            group_key=a.group_key,
            items=group.stored(),
            payload_sha256=group.payload_sha256(),
            now=now,
        )
    else:
        sink.close(a.external_id, group, a.text or "")
        record_closed(conn, sink=a.sink, group_key=a.group_key, now=now)
    return a
