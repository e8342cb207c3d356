"""Alerts to Alertmanager: alert objects built by hand from hand-written rows, the warehouse queries over
findings inserted by hand (the anomaly job's row shape), and a real Alertmanager (Debian package) that
must fire, update, and resolve them."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import requests
from pydantic import SecretStr, ValidationError
from pytest_httpserver import HTTPServer

from spendscope.config import load_settings, redacted
from spendscope.errors import ConfigError, ExporterError
from spendscope.exporters.alertmanager import (
    AlertmanagerSettings,
    build_alerts,
    push_alerts,
    read_alert_sources,
    stale_alerts,
)
from spendscope.warehouse.db import open_warehouse
from tests.servers import free_port
from tests.servers.alertmanager import Alertmanager

D = Decimal
NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
TODAY = datetime.now(UTC).date()  # a real Alertmanager judges endsAt by its own clock
MONEY = pl.Decimal(38, 12)
ANOMALY_SCHEMA: dict[str, Any] = {
    "fingerprint": pl.String,
    "series": pl.String,
    "kind": pl.String,
    "provider": pl.String,
    "service": pl.String,
    "account": pl.String,
    "region": pl.String,
    "team": pl.String,
    "currency": pl.String,
    "severity": pl.String,
    "start": pl.Date,
    "end": pl.Date,
    "last_day": pl.Date,
    "detected_on": pl.Date,
    "expected": MONEY,
    "actual": MONEY,
    "impact": MONEY,
    "relative_change": pl.Float64,
    "drivers": pl.String,
}
BUDGET_SCHEMA: dict[str, Any] = {
    "name": pl.String,
    "period": pl.Date,
    "made_on": pl.Date,
    "scope": pl.String,
    "scope_value": pl.String,
    "currency": pl.String,
    "amount": MONEY,
    "mtd_actual": MONEY,
    "linear_pace": MONEY,
    "burn_ratio": pl.Float64,
    "forecast_point": MONEY,
    "exhaustion_date": pl.Date,
    "status": pl.String,
}
DRIVERS = [
    {"dimension": "ResourceId", "value": "i-0abc", "delta": 812.0},
    {"dimension": "x_UsageType", "value": "BoxUsage:m5.large", "delta": 300.5},
    {"dimension": "SkuId", "value": "SKU1", "delta": 100.0},
    {"dimension": "ResourceId", "value": "i-0def", "delta": 22.06},
]


def _anomaly(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "fingerprint": "f" * 64,
        "series": "service",
        "kind": "spike",
        "provider": "AWS",
        "service": "Amazon EC2",
        "account": "444455556666",
        "region": "us-east-1",
        "team": "payments",
        "currency": "USD",
        "severity": "high",
        "start": date(2026, 10, 12),
        "end": None,
        "last_day": date(2026, 10, 14),
        "detected_on": date(2026, 10, 12),
        "expected": D("300"),
        "actual": D("1534.56"),
        "impact": D("1234.56"),
        "relative_change": 4.1152,
        "drivers": json.dumps(DRIVERS),
    }
    row.update(overrides)
    return row


def _budget(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": "payments-monthly",
        "period": date(2026, 10, 1),
        "made_on": date(2026, 10, 20),
        "scope": "team",
        "scope_value": "payments",
        "currency": "USD",
        "amount": D("10000"),
        "mtd_actual": D("10500.5"),
        "linear_pace": D("6451.612903225806"),
        "burn_ratio": 1.6276,
        "forecast_point": D("16000"),
        "exhaustion_date": date(2026, 10, 18),
        "status": "over",
    }
    row.update(overrides)
    return row


def _frames(anomalies: list[dict[str, Any]], budgets: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.DataFrame(anomalies, schema=ANOMALY_SCHEMA), pl.DataFrame(budgets, schema=BUDGET_SCHEMA)


# ---------------------------------------------------------------- pure alert building


def test_active_service_anomaly_becomes_a_firing_alert_with_documented_labels() -> None:
    settings = AlertmanagerSettings(
        url="http://am:9093",
        resend_minutes=90,
        report_url="https://finops.example/r#{id}",
        extra_labels={"env": "prod"},
    )
    (alert,) = build_alerts(*_frames([_anomaly()], []), settings, now=NOW)
    assert alert.labels == {
        "alertname": "SpendscopeCostAnomaly",
        "severity": "high",
        "anomaly_id": "f" * 64,
        "kind": "spike",
        "provider": "AWS",
        "service": "Amazon EC2",
        "account": "444455556666",
        "region": "us-east-1",
        "team": "payments",
        "currency": "USD",
        "env": "prod",
    }
    assert alert.annotations == {
        "summary": "Amazon EC2 (444455556666, us-east-1) spike: impact 1,234.56 USD since 2026-10-12",
        "description": "expected 300.00 USD, actual 1,534.56 USD from 2026-10-12 to 2026-10-14 (+412%); "
        "detected on 2026-10-12, severity high",
        "impact": "1234.56",
        # top 3 of 4, largest first as stored
        "drivers": "ResourceId i-0abc +812.00 USD; x_UsageType BoxUsage:m5.large +300.50 USD; SkuId SKU1 +100.00 USD",
        "report_url": "https://finops.example/r#" + "f" * 64,
    }
    # startsAt: the anomaly's first day; endsAt: now + resend window (12:00 + 90 min)
    assert alert.payload() == {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": "2026-10-12T00:00:00.000Z",
        "endsAt": "2026-10-20T13:30:00.000Z",
        "generatorURL": "https://finops.example/r#" + "f" * 64,
    }


def test_ended_anomaly_ends_at_the_end_of_its_last_day_never_after_now() -> None:
    settings = AlertmanagerSettings(url="http://am:9093")
    ended, today = build_alerts(
        *_frames(
            [
                _anomaly(end=date(2026, 10, 14)),
                _anomaly(fingerprint="e" * 64, start=date(2026, 10, 19), end=date(2026, 10, 20), last_day=None),
            ],
            [],
        ),
        settings,
        now=NOW,
    )
    assert ended.payload()["endsAt"] == "2026-10-15T00:00:00.000Z"  # end of 2026-10-14, before NOW: resolved
    assert ended.annotations["summary"].endswith("since 2026-10-12, ended 2026-10-14")
    assert "report_url" not in ended.annotations and "generatorURL" not in ended.payload()
    assert today.ends_at == NOW  # 2026-10-21 00:00 would be in the future: clamped to now


def test_team_anomaly_carries_the_team_and_no_series_labels_of_a_service() -> None:
    row = _anomaly(
        series="team",
        kind="level_shift",
        provider=None,
        service=None,
        account=None,
        region=None,
        team="search",
        currency="EUR",
        severity="medium",
        relative_change=None,
        drivers="[]",
    )
    (alert,) = build_alerts(*_frames([row], []), AlertmanagerSettings(), now=NOW)
    assert alert.labels == {
        "alertname": "SpendscopeCostAnomaly",
        "severity": "medium",
        "anomaly_id": "f" * 64,
        "kind": "level_shift",
        "team": "search",
        "currency": "EUR",
    }
    assert alert.annotations["summary"] == "team search level shift: impact 1,234.56 EUR since 2026-10-12"
    assert "drivers" not in alert.annotations
    assert "(" not in alert.annotations["description"]  # no relative change known


def test_budget_breaches_fire_with_scope_labels() -> None:
    budgets = [
        _budget(),
        _budget(
            name="ec2",
            scope="service",
            scope_value="Amazon EC2",
            status="at_risk",
            mtd_actual=D("4000"),
            burn_ratio=0.62,
            forecast_point=D("10250.25"),
            exhaustion_date=None,
        ),
        _budget(name="all", scope="total", scope_value=None, currency="EUR", forecast_point=None),
    ]
    over, at_risk, total = build_alerts(*_frames([], budgets), AlertmanagerSettings(resend_minutes=60), now=NOW)
    assert over.labels == {
        "alertname": "SpendscopeBudgetBurn",
        "severity": "critical",
        "budget": "payments-monthly",
        "period": "2026-10",
        "scope": "team",
        "team": "payments",
        "currency": "USD",
    }
    assert over.annotations["summary"] == (
        "budget payments-monthly (team payments) over budget: 10,500.50 USD month-to-date of 10,000.00 USD "
        "for 2026-10, forecast 16,000.00 USD"
    )
    assert over.annotations["description"] == (
        "burn 1.63x the linear pace; linear pace 6,451.61 USD on 2026-10-20; budget exhausted on 2026-10-18"
    )
    assert over.payload()["startsAt"] == "2026-10-20T00:00:00.000Z"
    assert over.payload()["endsAt"] == "2026-10-20T13:00:00.000Z"
    assert at_risk.labels["severity"] == "high" and at_risk.labels["service"] == "Amazon EC2"
    assert "team" not in at_risk.labels
    assert at_risk.annotations["summary"] == (
        "budget ec2 (service Amazon EC2) forecast over budget: 4,000.00 USD month-to-date of 10,000.00 USD "
        "for 2026-10, forecast 10,250.25 USD"
    )
    assert {"team", "service", "account"}.isdisjoint(total.labels)
    assert total.annotations["summary"].startswith("budget all over budget: 10,500.50 EUR")


def test_alerts_alertmanager_holds_but_no_longer_sent_are_resolved_now() -> None:
    (sent,) = build_alerts(*_frames([_anomaly()], []), AlertmanagerSettings(), now=NOW)
    held = [
        {"labels": dict(sent.labels), "startsAt": "2026-10-12T00:00:00.000Z", "annotations": {}},
        {  # the same anomaly at its former severity
            "labels": {**sent.labels, "severity": "medium"},
            "startsAt": "2026-10-12T00:00:00.000Z",
            "annotations": {"summary": "old"},
            "generatorURL": "https://r/x",
        },
        {"labels": {"alertname": "SomethingElse", "anomaly_id": "x"}, "startsAt": "2026-10-01T00:00:00Z"},
    ]
    (stale,) = stale_alerts(held, [sent], now=NOW)
    assert stale.labels == {**sent.labels, "severity": "medium"}
    assert stale.payload() == {
        "labels": stale.labels,
        "annotations": {"summary": "old"},
        "startsAt": "2026-10-12T00:00:00.000Z",
        "endsAt": "2026-10-20T12:00:00.000Z",
        "generatorURL": "https://r/x",
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "http://user:pw@am:9093"}, "user:password@"),
        ({"report_url": "ftp://x"}, r"not an http\(s\) URL"),
        ({"extra_labels": {"severity": "x"}}, "set by spendscope"),
        ({"extra_labels": {"bad-name": "x"}}, "not a Prometheus label name"),
        ({"username": "u"}, "both username and password"),
        ({"token": "t", "username": "u", "password": "p"}, "not both"),
    ],
)
def test_settings_refuse_credentials_in_urls_and_reserved_labels(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertmanagerSettings(**fields)


def test_config_section_errors_name_the_key_and_never_echo_a_password(tmp_path: Path) -> None:
    config = tmp_path / "spendscope.toml"
    config.write_text('[alertmanager]\nurl = "http://user:s3cr3t@am:9093"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "alertmanager.url" in str(caught.value) and "s3cr3t" not in str(caught.value)
    config.write_text('[alertmanager]\nurl = "http://am:9093"\ntimeout = 3\n')
    with pytest.raises(ConfigError, match=r"unknown key 'alertmanager\.timeout'; valid keys here: .*timeout_s"):
        load_settings(config)
    config.write_text('[alertmanager]\nurl = "http://am:9093"\ntoken = "s3cr3t"\n')
    loaded = load_settings(config).alertmanager
    assert loaded.token is not None and loaded.token.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(loaded) and "s3cr3t" not in json.dumps(redacted(load_settings(config)))


# ---------------------------------------------------------------- the warehouse: findings and budgets by hand


def insert_anomaly(
    conn: duckdb.DuckDBPyConnection,
    fingerprint: str,
    *,
    series: str = "service",
    dimensions: dict[str, str],
    kind: str = "spike",
    start: str = "2026-10-12",
    end: str | None = None,
    last_day: str = "2026-10-14",
    impact: str = "1234.56",
    severity: str = "high",
    currency: str = "USD",
) -> None:
    """A findings row shaped like the anomaly job's (sql/analysis/anomaly_findings.sql)."""
    conn.execute(
        """
        INSERT INTO findings (fingerprint, kind, run_id, provider, account_id, region, resource_id, dimensions,
                              first_seen, last_seen, monthly_cost, currency, severity, details)
        VALUES ($fp, 'anomaly', 1, $dims->>'ProviderName', $dims->>'SubAccountId', $dims->>'RegionId', NULL,
                CAST($dims AS JSON), now(), now(), NULL, $currency, $severity,
                json_object('series', $series, 'kind', $kind, 'start', $start::DATE, 'end', $end::DATE,
                            'detected_on', $start::DATE, 'last_day', $last_day::DATE,
                            'expected', CAST(300 AS DECIMAL(38, 12)),
                            'actual', CAST(300 AS DECIMAL(38, 12)) + CAST($impact AS DECIMAL(38, 12)),
                            'impact', CAST($impact AS DECIMAL(38, 12)), 'relative_change', 4.1152,
                            'flagged_days', 3, 'recurring_days', []::DATE[],
                            'drivers', [{'dimension': 'ResourceId', 'value': 'i-0abc', 'delta': 812.0}]))
        """,
        {
            "fp": fingerprint,
            "dims": json.dumps(dimensions),
            "series": series,
            "kind": kind,
            "start": start,
            "end": end,
            "last_day": last_day,
            "impact": impact,
            "severity": severity,
            "currency": currency,
        },
    )


def set_anomaly(conn: duckdb.DuckDBPyConnection, fingerprint: str, **fields: str) -> None:
    """Change a stored finding as the next anomaly run would (end, severity)."""
    if "end" in fields:
        conn.execute(
            "UPDATE findings SET details = json_merge_patch(details, json_object('end', $end::DATE)) "
            "WHERE fingerprint = $fp",
            {"end": fields["end"], "fp": fingerprint},
        )
    if "severity" in fields:
        conn.execute(
            "UPDATE findings SET severity = $s WHERE fingerprint = $fp", {"s": fields["severity"], "fp": fingerprint}
        )


def insert_budget(
    conn: duckdb.DuckDBPyConnection, name: str, *, status: str, made_on: str = "2026-10-20", value: str = "payments"
) -> None:
    conn.execute(
        """
        INSERT INTO budget_status (name, made_on, period, scope, scope_value, currency, amount, days_elapsed,
                                   days_in_period, mtd_actual, linear_pace, burn_ratio, forecast_point, status, run_id)
        VALUES ($name, $made_on::DATE, DATE '2026-10-01', 'team', $value, 'USD', 10000, 19, 31, 10500.5,
                6129.032258064516, 1.7132, 16000, $status, 1)
        """,
        {"name": name, "made_on": made_on, "status": status, "value": value},
    )


EC2 = {"ProviderName": "AWS", "ServiceName": "Amazon EC2", "SubAccountId": "444455556666", "RegionId": "us-east-1"}


def test_alert_sources_read_active_and_recently_ended_anomalies_and_breached_budgets(
    wh: duckdb.DuckDBPyConnection,
) -> None:
    insert_anomaly(wh, "active", dimensions=EC2)
    insert_anomaly(wh, "ended-recently", dimensions=EC2, start="2026-10-01", end="2026-10-14", last_day="2026-10-14")
    insert_anomaly(wh, "ended-long-ago", dimensions=EC2, start="2026-09-01", end="2026-09-05", last_day="2026-09-05")
    insert_anomaly(wh, "team", series="team", dimensions={"team": "search"}, currency="EUR")
    wh.execute(
        "INSERT INTO findings (fingerprint, kind, run_id, resource_id, currency) "
        "VALUES ('orphan', 'orphan', 1, 'd', 'USD')"
    )
    # allocated cost of the EC2 series over the active anomaly's days 2026-10-12..14:
    # payments 100 + 50 = 150 > search 120; search's 1000 outside the days or in another region do not count
    for day, team, region, cost in [
        ("2026-10-12", "payments", "us-east-1", "100"),
        ("2026-10-14", "payments", "us-east-1", "50"),
        ("2026-10-13", "search", "us-east-1", "120"),
        ("2026-10-11", "search", "us-east-1", "1000"),
        ("2026-10-13", "search", "eu-west-1", "1000"),
    ]:
        wh.execute(
            "INSERT INTO allocated_daily (billing_period_start, day, provider, account, sub_account, service, region, "
            "team, environment, currency, BilledCost, EffectiveCost, shared, run_id) VALUES (TIMESTAMPTZ "
            "'2026-10-01 00:00:00+00', $day::DATE, 'AWS', '111122223333', '444455556666', 'Amazon EC2', $region, "
            "$team, 'prod', 'USD', $cost, $cost, false, 1)",
            {"day": day, "team": team, "region": region, "cost": cost},
        )
    insert_budget(wh, "over-now", status="over")
    insert_budget(wh, "was-over", status="over", made_on="2026-10-18")
    insert_budget(wh, "was-over", status="ok", made_on="2026-10-19")
    insert_budget(wh, "at-risk", status="at_risk")
    insert_budget(wh, "fine", status="ok")

    anomalies, budgets = read_alert_sources(wh, AlertmanagerSettings(resolved_days=7), now=NOW)

    got = {r["fingerprint"]: r for r in anomalies.iter_rows(named=True)}
    assert set(got) == {"active", "ended-recently", "team"}  # 2026-09-05 < NOW - 7 days = 2026-10-13
    assert got["active"]["team"] == "payments"
    assert (got["active"]["service"], got["active"]["account"], got["active"]["region"]) == (
        "Amazon EC2",
        "444455556666",
        "us-east-1",
    )
    assert got["active"]["end"] is None and got["active"]["impact"] == D("1234.56")
    assert json.loads(got["active"]["drivers"]) == [{"dimension": "ResourceId", "value": "i-0abc", "delta": 812.0}]
    # the ended anomaly's days 2026-10-01..14 include search's 1000 on 2026-10-11: search owns it
    assert got["ended-recently"]["team"] == "search" and got["ended-recently"]["end"] == date(2026, 10, 14)
    assert got["team"]["team"] == "search" and got["team"]["service"] is None
    assert budgets["name"].to_list() == ["at-risk", "over-now"]


# ---------------------------------------------------------------- a real Alertmanager


@pytest.fixture
def label() -> dict[str, str]:
    """A label of this test's own: tests share the session's Alertmanager."""
    return {"test": uuid.uuid4().hex}


def get_alerts(url: str, label: dict[str, str], *, active_only: bool = False) -> list[dict[str, Any]]:
    ((key, value),) = label.items()
    params: dict[str, Any] = {"filter": f'{key}="{value}"'}
    if active_only:
        params.update(active="true", silenced="false", inhibited="false")
    response = requests.get(f"{url}/api/v2/alerts", params=params, timeout=5)
    response.raise_for_status()
    return list(response.json())


def wait_for(check: Any, *, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_anomaly_fires_updates_one_alert_and_resolves_when_it_ends(
    wh: duckdb.DuckDBPyConnection, alertmanager: Alertmanager, label: dict[str, str]
) -> None:
    fp = uuid.uuid4().hex * 2
    start, end = TODAY - timedelta(days=8), TODAY - timedelta(days=2)  # within resolved_days (7) of today
    insert_anomaly(wh, fp, dimensions=EC2, start=start.isoformat(), last_day=end.isoformat())
    insert_budget(wh, "payments-monthly", status="over")
    settings = AlertmanagerSettings(
        url=alertmanager.url, extra_labels=label, report_url="https://finops.example/report#{id}"
    )

    first = push_alerts(wh, settings)
    assert (first.firing, first.resolved, first.stale) == (2, 0, 0)
    held = {a["labels"]["alertname"]: a for a in get_alerts(alertmanager.url, label)}
    assert set(held) == {"SpendscopeCostAnomaly", "SpendscopeBudgetBurn"}
    anomaly = held["SpendscopeCostAnomaly"]
    assert anomaly["labels"] == {
        "alertname": "SpendscopeCostAnomaly",
        "severity": "high",
        "anomaly_id": fp,
        "kind": "spike",
        "provider": "AWS",
        "service": "Amazon EC2",
        "account": "444455556666",
        "region": "us-east-1",
        "currency": "USD",
        **label,
    }
    assert anomaly["annotations"]["summary"] == (
        f"Amazon EC2 (444455556666, us-east-1) spike: impact 1,234.56 USD since {start.isoformat()}"
    )
    assert anomaly["annotations"]["drivers"] == "ResourceId i-0abc +812.00 USD"
    assert anomaly["annotations"]["report_url"] == f"https://finops.example/report#{fp}"
    assert anomaly["startsAt"].startswith(f"{start.isoformat()}T00:00:00")
    assert anomaly["status"]["state"] == "active"
    assert held["SpendscopeBudgetBurn"]["labels"]["budget"] == "payments-monthly"

    again = push_alerts(wh, settings)  # a repeat updates the same alerts (same label sets, same fingerprints)
    assert (again.firing, again.resolved, again.stale) == (2, 0, 0)
    assert sorted(a["fingerprint"] for a in get_alerts(alertmanager.url, label)) == sorted(
        a["fingerprint"] for a in held.values()
    )
    assert wait_for(lambda: alertmanager.notified("firing", anomaly_id=fp)), "no firing notification"

    set_anomaly(wh, fp, end=end.isoformat())
    ended = push_alerts(wh, settings)
    assert (ended.firing, ended.resolved, ended.stale) == (1, 1, 0)
    active = get_alerts(alertmanager.url, label, active_only=True)
    assert [a["labels"]["alertname"] for a in active] == ["SpendscopeBudgetBurn"]
    resolved = wait_for(lambda: alertmanager.notified("resolved", anomaly_id=fp))
    # resolved at the end of the anomaly's last day
    assert resolved and resolved[0]["endsAt"].startswith(f"{end + timedelta(days=1)}T00:00:00")


def test_a_changed_severity_or_a_budget_back_to_ok_resolves_the_former_alert(
    wh: duckdb.DuckDBPyConnection, alertmanager: Alertmanager, label: dict[str, str]
) -> None:
    fp = uuid.uuid4().hex * 2
    insert_anomaly(wh, fp, dimensions=EC2, severity="medium")
    insert_budget(wh, "payments-monthly", status="at_risk")
    settings = AlertmanagerSettings(url=alertmanager.url, extra_labels=label)
    assert push_alerts(wh, settings).firing == 2

    set_anomaly(wh, fp, severity="critical")
    wh.execute("UPDATE budget_status SET status = 'ok'")
    result = push_alerts(wh, settings)
    assert (result.firing, result.resolved, result.stale) == (1, 0, 2)
    active = get_alerts(alertmanager.url, label, active_only=True)
    assert [(a["labels"]["anomaly_id"], a["labels"]["severity"]) for a in active] == [(fp, "critical")]


def test_unreachable_alertmanager_is_one_line_error_without_secrets(
    wh: duckdb.DuckDBPyConnection, caplog: pytest.LogCaptureFixture
) -> None:
    insert_anomaly(wh, "a1", dimensions=EC2)
    before = wh.execute("SELECT count(*), sum(hash(details)) FROM findings").fetchall()
    settings = AlertmanagerSettings(
        url=f"http://127.0.0.1:{free_port()}", token=SecretStr("s3cr3t-t0ken"), retries=1, backoff_s=0, timeout_s=2
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(ExporterError) as caught:
        push_alerts(wh, settings)
    message = str(caught.value)
    assert "\n" not in message and "cannot connect: connection refused" in message
    assert message.startswith(f"GET {settings.url}/api/v2/alerts: ") and "next run retries" in message
    assert "s3cr3t" not in message and "s3cr3t" not in caplog.text
    assert wh.execute("SELECT count(*), sum(hash(details)) FROM findings").fetchall() == before


def test_token_goes_in_the_header_only(
    wh: duckdb.DuckDBPyConnection, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    insert_anomaly(wh, "a1", dimensions=EC2)
    insert_budget(wh, "b1", status="over")
    auth = {"Authorization": "Bearer s3cr3t-t0ken"}
    httpserver.expect_ordered_request("/api/v2/alerts", method="GET", headers=auth).respond_with_json([])
    httpserver.expect_ordered_request("/api/v2/alerts", method="POST", headers=auth).respond_with_data("")
    settings = AlertmanagerSettings(
        url=httpserver.url_for("/"), token=SecretStr("s3cr3t-t0ken"), report_url="https://r/{id}"
    )
    with caplog.at_level(logging.DEBUG):
        result = push_alerts(wh, settings)
    httpserver.check_assertions()
    (get, post), _ = zip(*httpserver.log, strict=True)
    assert get.args.getlist("filter") == ['alertname=~"SpendscopeCostAnomaly|SpendscopeBudgetBurn"']
    body = post.get_data(as_text=True)
    assert len(json.loads(body)) == 2 and result.firing == 2
    assert "s3cr3t" not in body and "s3cr3t" not in caplog.text and "s3cr3t" not in repr(result)


def test_refused_post_is_one_line_error(wh: duckdb.DuckDBPyConnection, httpserver: HTTPServer) -> None:
    insert_anomaly(wh, "a1", dimensions=EC2)
    httpserver.expect_request("/api/v2/alerts", method="GET").respond_with_json([])
    httpserver.expect_request("/api/v2/alerts", method="POST").respond_with_data(
        "maxFailures: invalid label set\nmore", status=400
    )
    with pytest.raises(ExporterError, match=r"^POST http://localhost:\d+/api/v2/alerts: HTTP 400: maxFailures: "):
        push_alerts(wh, AlertmanagerSettings(url=httpserver.url_for("/"), retries=0))


def test_cli_push_prints_counts_and_fails_in_one_line_when_unreachable(
    tmp_path: Path, alertmanager: Alertmanager, label: dict[str, str]
) -> None:
    warehouse = tmp_path / "cli.duckdb"
    conn = open_warehouse(warehouse)
    insert_anomaly(conn, uuid.uuid4().hex, dimensions=EC2)
    conn.close()
    ((key, value),) = label.items()
    config = tmp_path / "spendscope.toml"
    config.write_text(
        f'warehouse = "{warehouse}"\n[alertmanager]\nretries = 0\nextra_labels = {{ {key} = "{value}" }}\n'
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "spendscope.cli", "--config", str(config), "alerts", "push", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    sent = cli("--url", alertmanager.url)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == f"sent 1 firing and 0 resolved alerts (0 no longer reported) to {alertmanager.url}"
    assert len(get_alerts(alertmanager.url, label, active_only=True)) == 1

    down = cli("--url", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1 and down.stdout == ""
    assert down.stderr.count("\n") == 1 and down.stderr.startswith("error: GET http://127.0.0.1:")
    assert "cannot connect" in down.stderr

    unset = subprocess.run(
        [sys.executable, "-m", "spendscope.cli", "--warehouse", str(warehouse), "alerts", "push"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert unset.returncode == 1 and "no Alertmanager url" in unset.stderr


def test_alert_times_are_relative_to_now(wh: duckdb.DuckDBPyConnection, httpserver: HTTPServer) -> None:
    """An explicit now sets endsAt = now + resend_minutes (what the batch run passes)."""
    insert_anomaly(wh, "a1", dimensions=EC2)
    httpserver.expect_request("/api/v2/alerts", method="GET").respond_with_json([])
    httpserver.expect_request("/api/v2/alerts", method="POST").respond_with_data("")
    now = datetime.now(UTC).replace(microsecond=0)
    push_alerts(wh, AlertmanagerSettings(url=httpserver.url_for("/"), resend_minutes=30), now=now)
    (posted,) = json.loads(httpserver.log[-1][0].get_data(as_text=True))
    assert posted["endsAt"] == (now + timedelta(minutes=30)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
