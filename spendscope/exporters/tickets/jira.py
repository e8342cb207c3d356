"""Jira Cloud sink (REST API v3). Basic auth with email and API token; rich text as ADF.

Calls, as Atlassian's v3 reference documents them (developer.atlassian.com/cloud/jira/platform/rest/v3):
``POST /rest/api/3/issue`` with ``fields`` (project key, summary, issuetype name, description as an
Atlassian Document Format ``doc``, labels) answers 201 ``{"id", "key", "self"}``;
``POST /rest/api/3/issue/{key}/comment`` with ``{"body": doc}`` answers 201;
``GET /rest/api/3/issue/{key}/transitions`` lists ``{"transitions": [{"id", "name"}]}`` and
``POST /rest/api/3/issue/{key}/transitions`` with ``{"transition": {"id"}}`` answers 204.
"""

from __future__ import annotations

from typing import Any

import requests

from spendscope.errors import ExporterError
from spendscope.exporters.tickets.content import FOOTER, TicketGroup
from spendscope.exporters.tickets.http import Created, HttpSink
from spendscope.exporters.tickets.settings import JiraSink, TicketSettings

__all__ = ["JiraTickets", "adf"]

_SUMMARY_CHARS = 255


def _paragraph(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}]}


def adf(paragraphs: list[str], bullets: list[str] | None = None, after: list[str] | None = None) -> dict[str, Any]:
    """An ADF document: paragraphs, an optional bullet list, then more paragraphs (empty texts dropped)."""
    content = [_paragraph(p) for p in paragraphs if p]
    if bullets:
        content.append(
            {"type": "bulletList", "content": [{"type": "listItem", "content": [_paragraph(b)]} for b in bullets if b]}
        )
    content += [_paragraph(p) for p in after or [] if p]
    return {"type": "doc", "version": 1, "content": content}


class JiraTickets(HttpSink):
    name = "jira"

    def __init__(self, config: JiraSink, settings: TicketSettings, *, session: requests.Session | None = None) -> None:
        super().__init__(settings, credentials_hint="[tickets.jira] email and api_token", session=session)
        self.config = config
        self.session.auth = (config.email, config.api_token.get_secret_value())
        self.session.headers["Accept"] = "application/json"

    def _api(self, path: str) -> str:
        return f"{self.config.url}/rest/api/3/{path}"

    def create(self, group: TicketGroup) -> Created:
        lines = group.lines(self._settings.max_items_listed)
        fields = {
            "project": {"key": self.config.project_key},
            "summary": group.title()[:_SUMMARY_CHARS],
            "issuetype": {"name": self.config.issue_type},
            "description": adf([group.intro()], lines, [FOOTER]),
            "labels": list(self.config.labels),
        }
        created = self._request("POST", self._api("issue"), body={"fields": fields})
        key = created.get("key") if isinstance(created, dict) else None
        if not key:
            raise ExporterError("Jira answered without an issue key", source=f"POST {self._api('issue')}")
        return Created(str(key), f"{self.config.url}/browse/{key}")

    def _comment(self, key: str, text: str) -> None:
        paragraphs = text.split("\n")
        self._request("POST", self._api(f"issue/{key}/comment"), body={"body": adf(paragraphs)})

    def update(self, external_id: str | None, group: TicketGroup, change: str) -> None:
        self._comment(_key(external_id), change)

    def close(self, external_id: str | None, group: TicketGroup, note: str) -> None:
        key = _key(external_id)
        self._comment(key, note)
        transition = self._transition_id(key)
        self._request("POST", self._api(f"issue/{key}/transitions"), body={"transition": {"id": transition}})

    def _transition_id(self, key: str) -> str:
        wanted = self.config.done_transition
        if wanted.isdigit():
            return wanted
        found = self._request("GET", self._api(f"issue/{key}/transitions"))
        transitions = found.get("transitions", []) if isinstance(found, dict) else []
        for t in transitions:
            if str(t.get("name", "")).casefold() == wanted.casefold():
                return str(t["id"])
        names = ", ".join(str(t.get("name")) for t in transitions) or "none"
        raise ExporterError(
            f"no transition {wanted!r} for {key}; available: {names} (set [tickets.jira] done_transition)",
            source=f"GET {self._api(f'issue/{key}/transitions')}",
        )


def _key(external_id: str | None) -> str:
    if not external_id:
        raise ExporterError("the ticket has no Jira key in the warehouse", source="tickets")
    return external_id
