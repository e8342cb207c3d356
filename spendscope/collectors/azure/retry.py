"""Throttling and failures of Azure Resource Manager calls: the retry policy, then the error mapping.

Cost Management throttles per query-processing unit, entity, tenant and client type and answers 429
with headers azure-core does not read, e.g. ``x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after:
12`` (seconds), usually without ``Retry-After``. azure-core's ``RetryPolicy`` then does not retry at
all: it retries a POST (the Query API is one) only on 500/503/504 or when ``Retry-After`` is present.
``CostManagementRetryPolicy`` retries 429 for every method and waits the largest of those headers and
``Retry-After``, capped. It is the only retry logic here: pass it as ``retry_policy=`` to an SDK client.

What is left after the retries becomes one spendscope error (``arm_errors``): 401 or a credential
that cannot give a token → ``CredentialsExpired``, 429 → ``Throttled``, anything else →
``CollectorError``; one line naming the SDK call and scope, never a token.

``check_call_options`` keeps azure-core's test-only ``enforce_https=False`` (bearer tokens over plain
http) to loopback hosts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy

from spendscope.errors import CollectorError, CredentialsExpired, Throttled

log = logging.getLogger(__name__)

RATE_LIMIT_HEADER = re.compile(
    r"^x-ms-ratelimit-microsoft\.(?:costmanagement-[a-z]+|consumption)-retry-after$", re.IGNORECASE
)
"""The qpu, entity, tenant, client and clienttype buckets of Cost Management (and Consumption's)."""

DEFAULT_MAX_RETRY_AFTER_S = 120.0
_MESSAGE_CHARS = 300
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_SECRETS = re.compile(r"(?i)bearer\s+\S+|eyJ[\w-]+\.[\w-]+\.[\w-]*")


class CostManagementRetryPolicy(RetryPolicy[Any, Any]):
    """azure-core's RetryPolicy, plus: 429 is retried for every method, and the wait honours the largest
    ``x-ms-ratelimit-microsoft.costmanagement-*-retry-after`` header (and ``Retry-After``), never more
    than ``max_retry_after_s``. Without any such header the exponential backoff applies.

    Retrying a POST is safe only because the calls made through it are reads (the Query API).
    Other keywords (``retry_total``, ``retry_backoff_factor`` …) are RetryPolicy's.
    """

    def __init__(self, *, max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S, **kwargs: Any) -> None:
        if max_retry_after_s < 0:
            raise ValueError("max_retry_after_s must be >= 0")
        super().__init__(**kwargs)
        self.max_retry_after_s = max_retry_after_s

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        if response.http_response.status_code == 429:
            return True  # increment() still stops at retry_total / retry_status
        return bool(super().is_retry(settings, response))

    def get_retry_after(self, response: PipelineResponse[Any, Any]) -> float | None:
        """Seconds to wait: the largest of Retry-After / retry-after-ms and the rate-limit headers, capped."""
        waits = [w for w in [super().get_retry_after(response), *_rate_limit_waits(response)] if w is not None]
        if not waits:
            return None
        wait = min(max(waits), self.max_retry_after_s)
        log.info(
            "azure throttled status=%d retry_after_s=%.3f url_path=%s",
            response.http_response.status_code,
            wait,
            response.http_request.url.split("?", 1)[0],
        )
        return wait


def _rate_limit_waits(response: PipelineResponse[Any, Any]) -> list[float]:
    waits = []
    for name, value in response.http_response.headers.items():
        if RATE_LIMIT_HEADER.match(name):
            try:
                seconds = float(value)
            except ValueError:
                log.warning("ignored unparseable rate-limit header %s=%r", name, value[:40])
                continue
            if seconds >= 0:
                waits.append(seconds)
    return waits


def one_line(text: str) -> str:
    """First non-empty line, without anything that looks like a bearer token, at most 300 characters."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = _SECRETS.sub("[redacted]", first)
    return first if len(first) <= _MESSAGE_CHARS else first[: _MESSAGE_CHARS - 1] + "…"


def _describe(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    detail = f"{code or 'error'}: {message or ''}".rstrip(": ") if code or message else None
    detail = detail or exc.reason or type(exc).__name__
    status = exc.status_code
    return one_line(f"HTTP {status} {detail}" if status else detail)


@contextmanager
def arm_errors(call: str) -> Iterator[None]:
    """SDK exceptions raised inside → one-line spendscope errors whose ``source`` is ``call``.

    ``call`` names the SDK call and its scope, e.g. ``costmanagement.query.usage /subscriptions/…``.
    The cause is dropped (``from None``): azure-core's exception text spans lines.
    """
    try:
        yield
    except ClientAuthenticationError as exc:  # a 401, or the credential could not give a token
        detail = _describe(exc) if exc.status_code else one_line(str(exc)) or type(exc).__name__
        raise CredentialsExpired(f"{detail} (sign in again or renew the credential)", source=call) from None
    except HttpResponseError as exc:
        detail = _describe(exc)
        if exc.status_code == 401:
            raise CredentialsExpired(f"{detail} (sign in again or renew the credential)", source=call) from None
        if exc.status_code == 429:
            raise Throttled(f"{detail} (retries exhausted; the next run tries again)", source=call) from None
        if exc.status_code == 403:
            raise CollectorError(f"{detail} (the identity lacks a role on this scope)", source=call) from None
        raise CollectorError(detail, source=call) from None
    except ServiceRequestError as exc:
        raise CollectorError(f"cannot reach the service: {one_line(str(exc))}", source=call) from None
    except AzureError as exc:
        raise CollectorError(one_line(str(exc)) or type(exc).__name__, source=call) from None


def check_call_options(base_url: str | None, call_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The per-call SDK options, refusing ``enforce_https=False`` unless base_url is a loopback host.

    azure-core sends bearer tokens over plain http only when a call passes ``enforce_https=False``;
    that is for tests against a local server, never for a path that reaches Azure.
    """
    options = dict(call_options or {})
    if options.get("enforce_https", True) is False:
        host = urlsplit(base_url or "").hostname
        if host not in _LOOPBACK:
            raise ValueError("enforce_https=False is only allowed with a loopback base_url (tests)")
    return options
