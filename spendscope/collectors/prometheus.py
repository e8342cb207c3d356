"""Transactions from Prometheus: a PromQL expression evaluated over a time range, per service per step.

``PrometheusTransactions.fetch(start, end)`` calls ``GET /api/v1/query_range`` with ``step_s`` and
returns one row per (service, window) with the count. The expression must give the transactions of
one step ending at each evaluation time, e.g. ``sum by (service)(increase(http_requests_total[1h]))``
with ``step_s = 3600``: ``increase(x[1h])`` evaluated at t covers (t-1h, t], so the sample at t
counts the window [t - step, t). Series with the same ``service_label`` value are summed; a series
without that label is refused. ``increase`` extrapolates, so counts are decimals (6 places).

Retries come from urllib3's ``Retry`` on the session's adapter (429 and 5xx, honouring Retry-After,
and refused connections); what is left becomes one spendscope error naming the call: 429 →
``Throttled``, 401/403 → ``CredentialsExpired``, anything else → ``CollectorError`` with Prometheus's
``errorType: error``. The bearer token or basic-auth password is sent, never logged nor printed.
This collector only reads; ``warehouse.transactions.store_transactions`` stores its frame.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from spendscope.errors import BadData, CollectorError, CredentialsExpired, Throttled
from spendscope.http import retrying_session

if TYPE_CHECKING:  # requests is imported where a request is made: the config model loads with every command
    import requests

__all__ = [
    "MAX_POINTS_PER_QUERY",
    "OUTPUT_SCHEMA",
    "PrometheusSource",
    "PrometheusTransactions",
    "aligned_range",
    "redact_url",
]

log = logging.getLogger(__name__)

OUTPUT_SCHEMA = pl.Schema(
    {
        "service": pl.String(),
        "window_start": pl.Datetime("us", "UTC"),
        "window_end": pl.Datetime("us", "UTC"),
        "count": pl.Decimal(38, 6),
    }
)
"""Columns of ``fetch``: the ``transactions`` table's, without source and ingest_id."""

MAX_POINTS_PER_QUERY = 10_000
"""Evaluation steps per request; Prometheus refuses more than 11,000 points per series."""

_RETRY_STATUSES = (429, 500, 502, 503, 504)
_OS_ERROR = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


class PrometheusSource(BaseModel):
    """Where transactions come from in Prometheus (the ``[unit_cost.prometheus]`` section)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        default="default", pattern=r"^[\w.-]+$", description="stored as source 'prometheus:<name>' in transactions"
    )
    url: str = Field(description="base URL of the Prometheus server, e.g. http://prometheus:9090")
    query: str = Field(
        min_length=1,
        description="PromQL: transactions per step per service, e.g. "
        "sum by (service)(increase(http_requests_total[1h])) with step_s = 3600",
    )
    service_label: str = Field(default="service", min_length=1, description="the label naming the service")
    step_s: int = Field(default=3600, ge=1, description="window length in seconds (the query_range step)")
    timeout_s: float = Field(default=30.0, gt=0, description="per HTTP request (connect and read)")
    retries: int = Field(default=3, ge=0, description="retries of refused connections, 429 and 5xx")
    backoff_s: float = Field(default=0.5, ge=0, description="urllib3 backoff factor between retries")
    token: SecretStr | None = Field(default=None, description="bearer token")
    username: str | None = Field(default=None, description="basic auth user (with password)")
    password: SecretStr | None = Field(default=None, description="basic auth password")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url {redact_url(url)!r} is not an http(s) URL")
        return url

    @model_validator(mode="after")
    def _one_auth(self) -> PrometheusSource:
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        if self.token is not None and self.username is not None:
            raise ValueError("give a bearer token or basic auth, not both")
        return self


def redact_url(url: str) -> str:
    """The URL without user:password@ (for messages and logs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class PrometheusTransactions:
    """A transactions collector over one Prometheus server and PromQL expression (see the module doc)."""

    collector = "prometheus"

    def __init__(self, config: PrometheusSource, *, session: requests.Session | None = None) -> None:
        self.config = config
        self.source = f"prometheus:{config.name}"
        self.endpoint = config.url.rstrip("/") + "/api/v1/query_range"
        self._call = f"GET {redact_url(self.endpoint)}"
        self._session = session or self._new_session()

    def _new_session(self) -> requests.Session:
        cfg = self.config
        return retrying_session(
            retries=cfg.retries,
            backoff_s=cfg.backoff_s,
            statuses=_RETRY_STATUSES,
            methods=("GET",),
            token=cfg.token,
            username=cfg.username,
            password=cfg.password,
        )

    def close(self) -> None:
        self._session.close()

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Transactions per service for the windows of ``step_s`` from ``start`` up to ``end`` (tz-aware).

        Windows are [start + k·step, start + (k+1)·step) ending at or before ``end``; a range of more
        than MAX_POINTS_PER_QUERY steps is queried in chunks. Returns OUTPUT_SCHEMA, sorted.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        step = timedelta(seconds=self.config.step_s)
        frames = []
        first = start + step  # the evaluation time that closes the first window
        while first <= end:
            last = min(first + step * (MAX_POINTS_PER_QUERY - 1), end)
            frames.append(self._query_range(first, last))
            first = last + step
        frame = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=OUTPUT_SCHEMA)
        return (
            frame.group_by("service", "window_start", "window_end")
            .agg(pl.col("count").sum())
            .select(list(OUTPUT_SCHEMA))
            .cast(OUTPUT_SCHEMA)
            .sort("service", "window_start")
        )

    def _query_range(self, first: datetime, last: datetime) -> pl.DataFrame:
        import requests

        params = {
            "query": self.config.query,
            "start": f"{first.timestamp():.3f}",
            "end": f"{last.timestamp():.3f}",
            "step": f"{self.config.step_s}s",
        }
        timeout = self.config.timeout_s
        try:
            response = self._session.get(self.endpoint, params=params, timeout=(timeout, timeout))
        except requests.exceptions.ConnectionError as exc:
            raise CollectorError(f"cannot connect: {_os_reason(exc)}", source=self._call) from exc
        except requests.exceptions.Timeout as exc:
            raise CollectorError(f"no answer within {timeout:g} s", source=self._call) from exc
        except requests.exceptions.RequestException as exc:
            raise CollectorError(f"request failed: {_os_reason(exc)}", source=self._call) from exc
        body = _json(response)
        if response.status_code != 200:
            raise self._http_error(response.status_code, body)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or body.get("status") != "success":
            raise CollectorError(f"HTTP {response.status_code} without a Prometheus success answer", source=self._call)
        for warning in body.get("warnings") or []:
            log.warning("prometheus warning url=%s warning=%s", redact_url(self.endpoint), warning)
        if data.get("resultType") != "matrix":
            raise CollectorError(
                f"resultType {data.get('resultType')!r}, expected 'matrix': the query must be an instant vector "
                "expression such as sum by (service)(increase(x[1h]))",
                source=self._call,
            )
        frame = self._samples(data.get("result") or [])
        log.info(
            "prometheus query_range url=%s start=%s end=%s step_s=%d series=%d samples=%d",
            redact_url(self.endpoint),
            first.isoformat(),
            last.isoformat(),
            self.config.step_s,
            len(data.get("result") or []),
            frame.height,
        )
        return frame

    def _http_error(self, status: int, body: Any) -> CollectorError:
        detail = ""
        if isinstance(body, dict) and body.get("error"):
            detail = f": {body.get('errorType') or 'error'}: {str(body['error']).splitlines()[0][:300]}"
        message = f"HTTP {status}{detail}"
        if status == 429:
            return Throttled(f"{message} (after {self.config.retries} retries)", source=self._call)
        if status in (401, 403):
            return CredentialsExpired(f"{message}; check the token or username/password", source=self._call)
        return CollectorError(message, source=self._call)

    def _samples(self, result: list[Any]) -> pl.DataFrame:
        label = self.config.service_label
        services: list[str] = []
        stamps: list[float] = []
        counts: list[float] = []
        for series in result:
            metric = series.get("metric") or {}
            service = metric.get(label)
            if not service:
                raise BadData(
                    f"a series has no {label!r} label ({metric}); aggregate by it, e.g. sum by ({label})(…)",
                    source=self._call,
                )
            for ts, value in series.get("values") or []:
                number = float(value)
                if not math.isfinite(number) or number < 0:
                    raise BadData(f"service {service!r} at {ts}: {value} is not a count", source=self._call)
                services.append(service)
                stamps.append(float(ts))
                counts.append(number)
        step_us = self.config.step_s * 1_000_000
        end = pl.from_epoch((pl.col("ts") * 1_000_000).round().cast(pl.Int64), time_unit="us").dt.replace_time_zone(
            "UTC"
        )
        return pl.DataFrame(
            {"service": services, "ts": stamps, "count": counts},
            schema={"service": pl.String, "ts": pl.Float64, "count": pl.Float64},
        ).select(
            "service",
            window_start=end - pl.duration(microseconds=step_us),
            window_end=end,
            count=pl.col("count").round(6).cast(pl.Decimal(38, 6)),
        )


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _os_reason(exc: BaseException) -> str:
    """'Connection refused' rather than urllib3's pool repr with the query string."""
    found = _OS_ERROR.search(str(exc))
    if found:
        return found.group(1).strip().lower()
    return type(exc).__name__


def aligned_range(start: datetime, end: datetime, step_s: int) -> tuple[datetime, datetime]:
    """``start`` floored and ``end`` floored to multiples of step_s since the Unix epoch (UTC)."""

    def floor(t: datetime) -> datetime:
        seconds = int(t.timestamp()) // step_s * step_s
        return datetime.fromtimestamp(seconds, tz=UTC)

    return floor(start), floor(end)
