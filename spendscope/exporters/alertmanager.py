"""Alerts to Prometheus Alertmanager from the stored results: cost anomalies and budget breaches.

``push_alerts`` reads the warehouse only (never recomputes): the anomaly findings of the latest anomaly
run and the latest ``budget_status`` of each budget (``sql/exporters/alertmanager_*.sql``). The pure
``build_alerts`` turns them into alerts, which are POSTed to Alertmanager's ``/api/v2/alerts``.

Identity. Alertmanager identifies an alert by its label set (its fingerprint). An anomaly carries
``anomaly_id``, the finding's fingerprint (sha256 of series, dimensions, kind and start: stable across
runs), so re-sending it updates one alert; a budget carries ``budget`` and ``period``. Labels come from
bounded sets (severity, kind, provider, service, account, region, team, currency, scope) plus the
config's ``extra_labels``; empty values are left out (Alertmanager drops them anyway).

Lifecycle. An active anomaly starts at its first day (00:00 UTC) and ends ``resend_minutes`` after the
push: every run re-sends it, and if the runs stop it resolves by itself. An anomaly that ended on or
after ``resolved_days`` ago is sent with ``endsAt`` = the end of its last day (at most now): resolved.
A budget whose latest status is over / at_risk fires from the day of that status. Before posting, the
active spendscope alerts (our alertnames and ``extra_labels``) are read back from Alertmanager; any
whose label set is not sent this run (the severity changed, the anomaly is no longer reported, the
budget is back to ok, a new month began) is posted back with ``endsAt`` = now, so it resolves rather
than lingering until it expires. Nothing is stored, so a failed push is simply retried by the next run.

Errors: an unreachable or refusing Alertmanager raises ``ExporterError`` (one line naming the call)
after urllib3's retries (refused connections, 429, 5xx; POSTing alerts is idempotent). The bearer token
or basic-auth password is sent in a header only: never in a label, annotation, message or log.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from spendscope import sql
from spendscope.collectors.prometheus import redact_url
from spendscope.errors import ConfigError, ExporterError
from spendscope.http import retrying_session

if TYPE_CHECKING:  # requests is imported where a request is made: the config model loads with every command
    import requests

__all__ = [
    "ALERTNAMES",
    "Alert",
    "AlertmanagerSettings",
    "PushResult",
    "build_alerts",
    "push_alerts",
    "read_alert_sources",
    "replace_url",
    "stale_alerts",
]

log = logging.getLogger(__name__)

ANOMALY_ALERT = "SpendscopeCostAnomaly"
BUDGET_ALERT = "SpendscopeBudgetBurn"
ALERTNAMES = (ANOMALY_ALERT, BUDGET_ALERT)
BUDGET_SEVERITY = {"over": "critical", "at_risk": "high"}
"""Severity of a budget alert by status (the anomaly scale: low, medium, high, critical)."""

_OWN_LABELS = frozenset(
    {"alertname", "severity", "anomaly_id", "kind", "provider", "service", "account", "region", "team"}
    | {"currency", "budget", "period", "scope"}
)
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KIND_TEXT = {"spike": "spike", "level_shift": "level shift", "leak": "slow leak", "new_spend": "new spend"}
_RETRY_STATUSES = (429, 500, 502, 503, 504)
_OS_ERROR = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_TOP_DRIVERS = 3


class AlertmanagerSettings(BaseModel):
    """Alerts to Prometheus Alertmanager (section ``[alertmanager]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(
        default=None, description="base URL of Alertmanager, e.g. http://alertmanager:9093 (unset: no alerts)"
    )
    resend_minutes: int = Field(
        default=60,
        ge=1,
        description="an active alert's endsAt is the push time plus this; push more often than this or it resolves",
    )
    resolved_days: int = Field(
        default=7, ge=0, description="anomalies that ended this many days ago or later are (re)sent as resolved"
    )
    report_url: str | None = Field(
        default=None,
        description="link in each alert (annotation report_url, generatorURL); {id} = anomaly id or budget name",
    )
    extra_labels: dict[str, str] = Field(
        default_factory=dict, description="labels added to every alert, e.g. {env = 'prod'} (no secrets)"
    )
    timeout_s: float = Field(default=10.0, gt=0, description="per HTTP request (connect and read)")
    retries: int = Field(default=3, ge=0, description="retries of refused connections, 429 and 5xx")
    backoff_s: float = Field(default=0.5, ge=0, description="urllib3 backoff factor between retries")
    token: SecretStr | None = Field(default=None, description="bearer token (sent in a header only)")
    username: str | None = Field(default=None, description="basic auth user (with password)")
    password: SecretStr | None = Field(default=None, description="basic auth password")

    @field_validator("url", "report_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{redact_url(url)!r} is not an http(s) URL")
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"{redact_url(url)!r} carries user:password@; use username/password or token")
        return url

    @field_validator("extra_labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        for name in labels:
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(f"{name!r} is not a Prometheus label name")
            if name in _OWN_LABELS:
                raise ValueError(f"{name!r} is set by spendscope; reserved: {', '.join(sorted(_OWN_LABELS))}")
        return labels

    @model_validator(mode="after")
    def _one_auth(self) -> AlertmanagerSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        if self.token is not None and self.username is not None:
            raise ValueError("give a bearer token or basic auth, not both")
        return self


@dataclass(frozen=True)
class Alert:
    """One alert as Alertmanager's API v2 takes it (times tz-aware UTC)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    generator_url: str | None = None

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": _iso(self.starts_at),
            "endsAt": _iso(self.ends_at),
        }
        if self.generator_url:
            body["generatorURL"] = self.generator_url
        return body

    def key(self) -> frozenset[tuple[str, str]]:
        """What Alertmanager fingerprints: the label set."""
        return frozenset(self.labels.items())


@dataclass(frozen=True)
class PushResult:
    url: str
    """Alertmanager's URL, without credentials."""
    firing: int
    """Alerts sent active (anomalies not ended, budgets over or at risk)."""
    resolved: int
    """Anomalies sent resolved because they ended."""
    stale: int
    """Alerts found active in Alertmanager that this run no longer reports, sent resolved."""
    alerts: list[Alert] = field(default_factory=list)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _money(value: Decimal | float | None) -> str:
    return "?" if value is None else f"{value:,.2f}"


def _labels(values: dict[str, Any], extra: dict[str, str]) -> dict[str, str]:
    labels = {k: str(v) for k, v in values.items() if v is not None and str(v) != ""}
    return {**extra, **labels}


def _drivers(text: str | None, currency: str) -> str:
    drivers = json.loads(text) if text else []
    parts = [f"{d['dimension']} {d['value']} +{_money(d['delta'])} {currency}" for d in drivers[:_TOP_DRIVERS]]
    return "; ".join(parts)


def _report_url(settings: AlertmanagerSettings, anomaly_id: str) -> str | None:
    if settings.report_url is None:
        return None
    return settings.report_url.replace("{id}", anomaly_id)


def _anomaly_alert(row: dict[str, Any], settings: AlertmanagerSettings, now: datetime) -> Alert:
    currency = row["currency"] or ""
    labels = _labels(
        {
            "alertname": ANOMALY_ALERT,
            "severity": row["severity"],
            "anomaly_id": row["fingerprint"],
            "kind": row["kind"],
            "provider": row["provider"],
            "service": row["service"],
            "account": row["account"],
            "region": row["region"],
            "team": row["team"],
            "currency": currency,
        },
        settings.extra_labels,
    )
    if row["series"] == "team":
        what = f"team {row['team']}"
    else:
        where = ", ".join(v for v in (row["account"], row["region"]) if v)
        what = f"{row['service']} ({where})" if where else str(row["service"])
    kind = _KIND_TEXT.get(row["kind"], row["kind"])
    summary = f"{what} {kind}: impact {_money(row['impact'])} {currency} since {row['start'].isoformat()}"
    if row["end"] is not None:
        summary += f", ended {row['end'].isoformat()}"
    last = row["last_day"] or row["start"]
    change = "" if row["relative_change"] is None else f" ({row['relative_change']:+.0%})"
    annotations = {
        "summary": summary,
        "description": (
            f"expected {_money(row['expected'])} {currency}, actual {_money(row['actual'])} {currency} "
            f"from {row['start'].isoformat()} to {last.isoformat()}{change}; "
            f"detected on {row['detected_on'].isoformat() if row['detected_on'] else '?'}, severity {row['severity']}"
        ),
        "impact": f"{row['impact']:.2f}" if row["impact"] is not None else "",
    }
    drivers = _drivers(row["drivers"], currency)
    if drivers:
        annotations["drivers"] = drivers
    link = _report_url(settings, row["fingerprint"])
    if link:
        annotations["report_url"] = link
    starts = _midnight(row["start"])
    if row["end"] is None:
        ends = now + timedelta(minutes=settings.resend_minutes)
    else:  # the end of the last anomalous day, never in the future: Alertmanager resolves it now
        ends = max(min(_midnight(row["end"]) + timedelta(days=1), now), starts)
    return Alert(labels, {k: v for k, v in annotations.items() if v}, starts, ends, link)


def _budget_alert(row: dict[str, Any], settings: AlertmanagerSettings, now: datetime) -> Alert:
    currency = row["currency"]
    scope, value = row["scope"], row["scope_value"]
    period = row["period"].strftime("%Y-%m")
    labels = _labels(
        {
            "alertname": BUDGET_ALERT,
            "severity": BUDGET_SEVERITY.get(row["status"], "high"),
            "budget": row["name"],
            "period": period,
            "scope": scope,
            "team": value if scope == "team" else None,
            "service": value if scope == "service" else None,
            "account": value if scope == "account" else None,
            "currency": currency,
        },
        settings.extra_labels,
    )
    what = f"budget {row['name']}" + (f" ({scope} {value})" if value else "")
    state = "over budget" if row["status"] == "over" else "forecast over budget"
    summary = (
        f"{what} {state}: {_money(row['mtd_actual'])} {currency} month-to-date of "
        f"{_money(row['amount'])} {currency} for {period}"
    )
    if row["forecast_point"] is not None:
        summary += f", forecast {_money(row['forecast_point'])} {currency}"
    burn = "" if row["burn_ratio"] is None else f"burn {row['burn_ratio']:.2f}x the linear pace"
    exhausted = f"budget exhausted on {row['exhaustion_date'].isoformat()}" if row["exhaustion_date"] else ""
    annotations = {
        "summary": summary,
        "description": "; ".join(
            p
            for p in (
                burn,
                f"linear pace {_money(row['linear_pace'])} {currency} on {row['made_on'].isoformat()}",
                exhausted,
            )
            if p
        ),
    }
    link = _report_url(settings, row["name"])
    if link:
        annotations["report_url"] = link
    starts = _midnight(row["made_on"])
    return Alert(labels, annotations, min(starts, now), now + timedelta(minutes=settings.resend_minutes), link)


def build_alerts(
    anomalies: pl.DataFrame, budgets: pl.DataFrame, settings: AlertmanagerSettings, *, now: datetime
) -> list[Alert]:
    """Alerts for the rows of ``read_alert_sources`` (pure; a handful of rows, one alert each).

    ``anomalies``: rows of ``sql/exporters/alertmanager_anomalies.sql`` (active, or ended: resolved);
    ``budgets``: rows of ``alertmanager_budgets.sql`` (over or at_risk). ``now`` is tz-aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    alerts = [_anomaly_alert(row, settings, now) for row in anomalies.iter_rows(named=True)]
    alerts += [_budget_alert(row, settings, now) for row in budgets.iter_rows(named=True)]
    return alerts


def stale_alerts(active: list[dict[str, Any]], alerts: list[Alert], *, now: datetime) -> list[Alert]:
    """The alerts of ``active`` (Alertmanager's GET /api/v2/alerts items) whose label set is not among
    ``alerts``, to be posted back with endsAt = ``now`` so they resolve."""
    sent = {a.key() for a in alerts}
    stale = []
    for item in active:
        labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
        if labels.get("alertname") not in ALERTNAMES or frozenset(labels.items()) in sent:
            continue
        starts = datetime.fromisoformat(str(item.get("startsAt") or _iso(now)).replace("Z", "+00:00"))
        annotations = {str(k): str(v) for k, v in (item.get("annotations") or {}).items()}
        alert = Alert(labels, annotations, min(starts, now), now, item.get("generatorURL") or None)
        stale.append(alert)
    return stale


def read_alert_sources(
    conn: duckdb.DuckDBPyConnection, settings: AlertmanagerSettings, *, now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(anomalies, budgets) to alert on, from the stored results. Read-only."""
    ended_since = (now - timedelta(days=settings.resolved_days)).astimezone(UTC).date()
    anomalies = conn.execute(sql.load("exporters/alertmanager_anomalies"), {"ended_since": ended_since}).pl()
    budgets = conn.execute(sql.load("exporters/alertmanager_budgets")).pl()
    return anomalies, budgets


class _Client:
    """Alertmanager's API v2 over one requests session with urllib3 retries."""

    def __init__(self, settings: AlertmanagerSettings, url: str) -> None:
        self.settings = settings
        self.endpoint = url.rstrip("/") + "/api/v2/alerts"
        self.session = self._new_session()

    def _new_session(self) -> requests.Session:
        cfg = self.settings
        return retrying_session(
            retries=cfg.retries,
            backoff_s=cfg.backoff_s,
            statuses=_RETRY_STATUSES,
            methods=("GET", "POST"),  # re-posting the same alerts is idempotent
            token=cfg.token,
            username=cfg.username,
            password=cfg.password,
        )

    def active(self) -> list[dict[str, Any]]:
        """spendscope's alerts that Alertmanager holds active (silenced and inhibited included)."""
        matchers = [f'alertname=~"{"|".join(ALERTNAMES)}"']
        matchers += [f'{k}="{_quote(v)}"' for k, v in sorted(self.settings.extra_labels.items())]
        body = self._call("GET", params={"filter": matchers, "active": "true"})
        if not isinstance(body, list):
            raise ExporterError("the answer is not a list of alerts", source=f"GET {redact_url(self.endpoint)}")
        return [item for item in body if isinstance(item, dict)]

    def post(self, alerts: list[Alert]) -> None:
        self._call("POST", json_body=[a.payload() for a in alerts])

    def _call(self, method: Literal["GET", "POST"], *, params: Any = None, json_body: Any = None) -> Any:
        import requests

        call = f"{method} {redact_url(self.endpoint)}"
        timeout = self.settings.timeout_s
        pool_log = logging.getLogger("urllib3.connectionpool")
        pool_log.addFilter(_quiet_retries)
        try:
            response = self.session.request(
                method, self.endpoint, params=params, json=json_body, timeout=(timeout, timeout)
            )
        except requests.exceptions.ConnectionError as exc:
            raise ExporterError(f"cannot connect: {_reason(exc)}; the next run retries", source=call) from None
        except requests.exceptions.Timeout:
            raise ExporterError(f"no answer within {timeout:g} s; the next run retries", source=call) from None
        except requests.exceptions.RequestException as exc:
            raise ExporterError(f"request failed: {_reason(exc)}", source=call) from None
        finally:
            pool_log.removeFilter(_quiet_retries)
        if response.status_code in (401, 403):
            raise ExporterError(f"HTTP {response.status_code}; check the token or username/password", source=call)
        if response.status_code >= 300:
            detail = response.text.strip().splitlines()[0][:300] if response.text.strip() else ""
            raise ExporterError(f"HTTP {response.status_code}" + (f": {detail}" if detail else ""), source=call)
        if method == "POST":
            return None
        try:
            return response.json()
        except ValueError:
            raise ExporterError(f"HTTP {response.status_code} without a JSON answer", source=call) from None

    def close(self) -> None:
        self.session.close()


def _quiet_retries(record: logging.LogRecord) -> bool:
    """urllib3's per-retry warnings become one debug line here: a failed push is reported once, by the error."""
    if record.levelno == logging.WARNING and str(record.msg).startswith("Retrying"):
        log.debug("alertmanager request retried: %s", record.getMessage().splitlines()[0][:300])
        return False
    return True


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _reason(exc: BaseException) -> str:
    """'connection refused' rather than urllib3's pool repr."""
    found = _OS_ERROR.search(str(exc))
    return found.group(1).strip().lower() if found else type(exc).__name__


def push_alerts(
    conn: duckdb.DuckDBPyConnection, settings: AlertmanagerSettings, *, now: datetime | None = None
) -> PushResult:
    """Send the current anomaly and budget alerts to Alertmanager and resolve the ones no longer reported.

    Reads the warehouse only; re-sends everything every run (idempotent), so call it after each
    analysis and at least every ``resend_minutes``. Raises ConfigError without a url, ExporterError
    when Alertmanager cannot be reached or refuses (the next run retries).
    """
    if settings.url is None:
        raise ConfigError("no Alertmanager url: set [alertmanager] url or pass --url", source="alertmanager")
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    anomalies, budgets = read_alert_sources(conn, settings, now=now)
    alerts = build_alerts(anomalies, budgets, settings, now=now)
    client = _Client(settings, settings.url)
    try:
        stale = stale_alerts(client.active(), alerts, now=now)
        if alerts or stale:
            client.post(alerts + stale)
    finally:
        client.close()
    resolved = sum(1 for a in alerts if a.ends_at <= now)
    result = PushResult(redact_url(settings.url), len(alerts) - resolved, resolved, len(stale), alerts + stale)
    log.info(
        "alertmanager push url=%s firing=%d resolved=%d stale=%d",
        result.url,
        result.firing,
        result.resolved,
        result.stale,
    )
    return result


def replace_url(settings: AlertmanagerSettings, url: str) -> AlertmanagerSettings:
    """``settings`` with another url, validated (for ``--url``)."""
    try:
        return AlertmanagerSettings.model_validate({**settings.model_dump(), "url": url})
    except ValidationError as exc:
        raise ConfigError(f"--url: {exc.errors()[0]['msg']}", source="alertmanager") from None
