"""Generic JSON webhook sink: one message per opened, changed or resolved group.

The body is ``{"text": "…"}``, the message shape of a Slack incoming webhook (docs.slack.dev,
"Incoming webhooks": POST JSON with ``text``, Content-type application/json) which Teams' incoming
webhooks also accept. With ``details = true`` a ``spendscope`` object (event, group_key, resources,
totals) is added for generic receivers. A webhook has no ticket id: de-duplication is spendscope's
(a message only when something changed). The URL is a secret: errors and logs show its host only.
"""

from __future__ import annotations

from typing import Any, Literal

import requests

from spendscope.exporters.tickets.content import TicketGroup
from spendscope.exporters.tickets.github import markdown
from spendscope.exporters.tickets.http import Created, HttpSink, host_only
from spendscope.exporters.tickets.settings import TicketSettings, WebhookSink

__all__ = ["WebhookTickets"]


class WebhookTickets(HttpSink):
    name = "webhook"
    retry_connect = False

    def __init__(
        self, config: WebhookSink, settings: TicketSettings, *, session: requests.Session | None = None
    ) -> None:
        super().__init__(settings, credentials_hint="[tickets.webhook] url", session=session)
        self.config = config
        self._url = config.url.get_secret_value()

    def _post(self, event: Literal["opened", "updated", "resolved"], group: TicketGroup, text: str) -> None:
        body: dict[str, Any] = {"text": text}
        if self.config.details:
            body["spendscope"] = {
                "event": event,
                "group_key": group.group_key,
                "resources": [{"id": i.fingerprint, **i.stored()} for i in group.items],
                "totals": [
                    {"currency": c, "monthly_waste": None if t is None else str(t), "resources": n}
                    for c, t, n in group.totals()
                ],
            }
        self._request("POST", self._url, body=body, label=host_only(self._url))

    def create(self, group: TicketGroup) -> Created:
        self._post("opened", group, f"*{group.title()}*\n{markdown(group, self._settings.max_items_listed)}")
        return Created(None, None)

    def update(self, external_id: str | None, group: TicketGroup, change: str) -> None:
        self._post("updated", group, f"*{group.title()}*\n{change}")

    def close(self, external_id: str | None, group: TicketGroup, note: str) -> None:
        self._post("resolved", group, note)
