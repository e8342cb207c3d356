"""GitHub Issues sink (REST API version 2022-11-28).

Calls, as docs.github.com/en/rest/issues documents them: ``POST /repos/{owner}/{repo}/issues`` with
``title``, ``body`` (Markdown) and ``labels`` answers 201 with ``number`` and ``html_url``;
``POST /repos/{owner}/{repo}/issues/{number}/comments`` with ``body`` answers 201;
``PATCH /repos/{owner}/{repo}/issues/{number}`` with ``{"state": "closed", "state_reason":
"completed"}`` answers 200. Headers: ``Authorization: Bearer TOKEN``, ``Accept:
application/vnd.github+json``, ``X-GitHub-Api-Version: 2022-11-28``.
"""

from __future__ import annotations

import requests

from spendscope.errors import ExporterError
from spendscope.exporters.tickets.content import FOOTER, TicketGroup
from spendscope.exporters.tickets.http import Created, HttpSink
from spendscope.exporters.tickets.settings import GitHubSink, TicketSettings

__all__ = ["GitHubTickets", "markdown"]

API_VERSION = "2022-11-28"


def markdown(group: TicketGroup, limit: int) -> str:
    items = "\n".join(f"- {line}" for line in group.lines(limit))
    return f"{group.intro()}\n\n{items}\n\n{FOOTER}\n"


class GitHubTickets(HttpSink):
    name = "github"

    def __init__(
        self, config: GitHubSink, settings: TicketSettings, *, session: requests.Session | None = None
    ) -> None:
        super().__init__(settings, credentials_hint="[tickets.github] token", session=session)
        self.config = config
        self.session.headers.update(
            {
                "Authorization": f"Bearer {config.token.get_secret_value()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            }
        )

    def _api(self, path: str) -> str:
        return f"{self.config.api_url}/repos/{self.config.repo}/{path}"

    def create(self, group: TicketGroup) -> Created:
        body = {
            "title": group.title(),
            "body": markdown(group, self._settings.max_items_listed),
            "labels": list(self.config.labels),
        }
        created = self._request("POST", self._api("issues"), body=body)
        number = created.get("number") if isinstance(created, dict) else None
        if number is None:
            raise ExporterError("GitHub answered without an issue number", source=f"POST {self._api('issues')}")
        return Created(str(number), created.get("html_url"))

    def update(self, external_id: str | None, group: TicketGroup, change: str) -> None:
        self._request("POST", self._api(f"issues/{_number(external_id)}/comments"), body={"body": change})

    def close(self, external_id: str | None, group: TicketGroup, note: str) -> None:
        number = _number(external_id)
        self._request("POST", self._api(f"issues/{number}/comments"), body={"body": note})
        self._request("PATCH", self._api(f"issues/{number}"), body={"state": "closed", "state_reason": "completed"})


def _number(external_id: str | None) -> str:
    if not external_id:
        raise ExporterError("the ticket has no GitHub issue number in the warehouse", source="tickets")
    return external_id
