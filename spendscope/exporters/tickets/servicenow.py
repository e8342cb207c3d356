"""ServiceNow sink (Table API): an incident or a catalog task per ticket, basic auth.

Calls, as ServiceNow's Table API reference documents them (docs.servicenow.com, "Table API"):
``POST /api/now/table/{table}`` inserts one record and answers 201 ``{"result": {"sys_id",
"number", …}}``; ``PATCH /api/now/table/{table}/{sys_id}`` updates the fields given and answers
200. Updates add ``work_notes``; closing sets ``state`` (incident 6 Resolved, sc_task 3 Closed
Complete, or ``close_state``), ``close_notes`` and ``close_fields``. Headers: ``Accept`` and
``Content-Type: application/json``.
"""

from __future__ import annotations

import requests

from spendscope.errors import ExporterError
from spendscope.exporters.tickets.content import FOOTER, TicketGroup
from spendscope.exporters.tickets.http import Created, HttpSink
from spendscope.exporters.tickets.settings import ServiceNowSink, TicketSettings

__all__ = ["ServiceNowTickets"]

_SHORT_CHARS = 160


class ServiceNowTickets(HttpSink):
    name = "servicenow"

    def __init__(
        self, config: ServiceNowSink, settings: TicketSettings, *, session: requests.Session | None = None
    ) -> None:
        super().__init__(settings, credentials_hint="[tickets.servicenow] user and password", session=session)
        self.config = config
        self.session.auth = (config.user, config.password.get_secret_value())
        self.session.headers["Accept"] = "application/json"

    def _api(self, sys_id: str | None = None) -> str:
        base = f"{self.config.instance_url}/api/now/table/{self.config.table}"
        return f"{base}/{sys_id}" if sys_id else base

    def create(self, group: TicketGroup) -> Created:
        lines = "\n".join(f"- {line}" for line in group.lines(self._settings.max_items_listed))
        body = {
            **self.config.fields,
            "short_description": group.title()[:_SHORT_CHARS],
            "description": f"{group.intro()}\n\n{lines}\n\n{FOOTER}",
        }
        created = self._request("POST", self._api(), body=body)
        result = created.get("result") if isinstance(created, dict) else None
        sys_id = result.get("sys_id") if isinstance(result, dict) else None
        if not sys_id:
            raise ExporterError("ServiceNow answered without a sys_id", source=f"POST {self._api()}")
        url = f"{self.config.instance_url}/nav_to.do?uri={self.config.table}.do?sys_id={sys_id}"
        return Created(str(sys_id), url)

    def update(self, external_id: str | None, group: TicketGroup, change: str) -> None:
        self._request("PATCH", self._api(_sys_id(external_id)), body={"work_notes": change})

    def close(self, external_id: str | None, group: TicketGroup, note: str) -> None:
        body = {**self.config.close_fields, "state": self.config.closed_state(), "close_notes": note}
        self._request("PATCH", self._api(_sys_id(external_id)), body=body)


def _sys_id(external_id: str | None) -> str:
    if not external_id:
        raise ExporterError("the ticket has no ServiceNow sys_id in the warehouse", source="tickets")
    return external_id
