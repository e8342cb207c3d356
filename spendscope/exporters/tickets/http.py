"""The HTTP side shared by the ticket sinks: one requests session per sink, retries, one-line errors.

Retries come from urllib3's ``Retry`` on the session's adapter: a 429 (and a 413/503 carrying
Retry-After) is retried after the ``Retry-After`` the vendor sends, for every method (a throttled
request was not processed, so retrying a POST does not duplicate a ticket); refused connections are
retried too. Other 5xx are not retried: a create that failed half-way would otherwise open a
duplicate; the next sync retries. What is left becomes an ExporterError naming the call: 401 and
403 point at the sink's credential settings. Credentials are set on the session (basic auth or an
Authorization header) and never appear in a message, a log line or a ticket.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from spendscope.errors import ExporterError
from spendscope.exporters.tickets.content import TicketGroup
from spendscope.exporters.tickets.settings import TicketSettings
from spendscope.http import retrying_session

__all__ = ["Created", "HttpSink", "TicketSink", "host_only"]

log = logging.getLogger(__name__)

_OS_ERROR = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_DETAIL_CHARS = 300


@dataclass(frozen=True)
class Created:
    external_id: str | None
    url: str | None


class TicketSink(Protocol):
    """One ticket system. Every method raises ExporterError (one line, no secret) on failure."""

    name: str

    def create(self, group: TicketGroup) -> Created: ...

    def update(self, external_id: str | None, group: TicketGroup, change: str) -> None: ...

    def close(self, external_id: str | None, group: TicketGroup, note: str) -> None: ...


def host_only(url: str) -> str:
    """scheme://host[:port]/… : for messages about URLs whose path is a secret (webhooks)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}/…"


class HttpSink:
    """Base of the HTTP sinks: a session with retries and ``_request`` mapping failures to errors."""

    name = "http"
    retry_connect = True
    """False where the URL is a secret: urllib3 logs a warning with the URL path when it retries a connection."""

    def __init__(self, settings: TicketSettings, *, credentials_hint: str, session: requests.Session | None = None):
        self._settings = settings
        self._hint = credentials_hint
        self.session = session or self._new_session()

    def _new_session(self) -> requests.Session:
        session = retrying_session(
            retries=self._settings.retries,
            backoff_s=self._settings.backoff_s,
            statuses=(429,),
            methods=None,  # every method: a 429 was not processed
            retry_connect=self.retry_connect,
            retry_read=False,
        )
        session.headers["User-Agent"] = "spendscope"
        return session

    def close_session(self) -> None:
        self.session.close()

    def _request(self, method: str, url: str, *, body: Any = None, label: str | None = None) -> Any:
        """Send JSON, return the parsed JSON answer (None when empty); raise ExporterError otherwise."""
        call = f"{method} {label or url}"
        timeout = self._settings.timeout_s
        try:
            response = self.session.request(method, url, json=body, timeout=(timeout, timeout))
        except requests.exceptions.ConnectionError as exc:
            raise ExporterError(f"cannot connect: {_os_reason(exc)}", source=call) from exc
        except requests.exceptions.Timeout as exc:
            raise ExporterError(f"no answer within {timeout:g} s", source=call) from exc
        except requests.exceptions.RequestException as exc:
            raise ExporterError(f"request failed: {_os_reason(exc)}", source=call) from exc
        log.info("ticket sink=%s call=%s status=%d", self.name, call, response.status_code)
        if 200 <= response.status_code < 300:
            return _json(response)
        raise self._error(response, call)

    def _error(self, response: requests.Response, call: str) -> ExporterError:
        status = response.status_code
        detail = _detail(_json(response))
        if status == 401:
            return ExporterError(f"HTTP 401: authentication failed; check {self._hint}", source=call)
        if status == 403:
            return ExporterError(f"HTTP 403: not allowed{detail}; check {self._hint} and its permissions", source=call)
        if status == 429:
            return ExporterError(
                f"HTTP 429: still rate limited after {self._settings.retries} retries; the next sync continues",
                source=call,
            )
        return ExporterError(f"HTTP {status}{detail}", source=call)


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _detail(body: Any) -> str:
    """The vendor's error message (Jira errorMessages/errors, GitHub message, ServiceNow error.message)."""
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    parts += [str(m) for m in body.get("errorMessages") or []]
    if isinstance(body.get("errors"), dict):
        parts += [f"{k}: {v}" for k, v in body["errors"].items()]
    if body.get("message"):
        parts.append(str(body["message"]))
    error = body.get("error")
    if isinstance(error, dict) and error.get("message"):
        parts.append(str(error["message"]))
    text = "; ".join(parts).replace("\n", " ")
    return f": {text[:_DETAIL_CHARS]}" if text else ""


def _os_reason(exc: BaseException) -> str:
    found = _OS_ERROR.search(str(exc))
    return found.group(1).strip().lower() if found else type(exc).__name__
