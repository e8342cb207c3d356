"""The monthly report: every table figure against SQL written here, hostile tag values, the extracts,
and the page in a real headless Chromium (Debian's, over the DevTools protocol via Playwright).

One warehouse (module scope): a generated two-month bill (September and October 2026), a hand-written
source whose tags are hostile (HTML/JS, formulas, a 3,000-character value, unicode), transactions, the
analysis jobs, two forecasts made in October, anomalies, a hand inventory for orphans and one ticket.
Expected figures come from the queries in this file, never from spendscope's report code.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from spendscope.analysis.anomalies import run_anomalies
from spendscope.analysis.forecast import run_forecast
from spendscope.analysis.orphans import run_orphans
from spendscope.analysis.run import run_analysis
from spendscope.collectors.aws.inventory import OUTPUT_SCHEMA
from spendscope.collectors.focus import FocusFiles
from spendscope.config import Settings
from spendscope.errors import ExporterError
from spendscope.exporters.report import ReportResult, ReportSettings, default_period, write_report
from spendscope.exporters.report.charts import check_inert
from spendscope.exporters.report.data import resolve_month
from spendscope.exporters.report.extracts import neutralize, neutralize_frame
from spendscope.exporters.report.shape import budget_paths, budget_table, fold_series, rank_movers
from spendscope.generator import generate
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.inventory import load_inventory
from spendscope.warehouse.transactions import load_transactions

from ..conftest import rows, write_csv

D = Decimal
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LABEL_CHARS = 80
LONG = "L" * 3000
HOSTILE_TEAMS = [
    '<script>alert("team")</script>',
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    LONG,
    "チーム🚀 ünïcödé",
]
HOSTILE_SERVICE = '"><svg onload=alert(2)>'
NOW = datetime(2026, 11, 3, tzinfo=UTC)
SETTINGS: dict[str, Any] = {
    "allocation": {
        "rule_sets": [
            {
                "team": {"tag_keys": ["team", "owner"], "fold_case": False},
                "environment": {"tag_keys": ["env"], "fold_case": False},
                "shared": [{"name": "support", "service_subcategories": ["Support"]}],
            }
        ]
    },
    "unit_cost": {"service": {"tag_keys": ["app"]}},
    "budgets": [
        {"name": "total-usd", "scope": "total", "amount": "5000", "currency": "USD"},
        {"name": "ml", "scope": "team", "value": "ml", "amount": "300", "currency": "USD"},
        {"name": "<b>hostile</b>", "scope": "team", "value": HOSTILE_TEAMS[0], "amount": "10", "currency": "USD"},
    ],
    "report": {"table_rows": 1000, "label_chars": LABEL_CHARS},
}


def _hostile_rows(month: int) -> list[dict[str, Any]]:
    out = []
    for i, team in enumerate(HOSTILE_TEAMS):
        tags = json.dumps({"team": team, "env": '=HYPERLINK("http://x","y")', "app": "=1+2"})
        out += rows(
            1,
            BillingAccountId="555566667777",
            BillingAccountName="<i>hostile</i> payer",
            SubAccountId="=cmd|' /C calc'!A0",
            ServiceName=HOSTILE_SERVICE if i % 2 else "Amazon EC2",
            ResourceId=f"javascript:alert({i})",
            BilledCost=f"{i + 1}.25",
            EffectiveCost=f"{i + 1}.25",
            BillingPeriodStart=f"2026-{month:02d}-01T00:00:00Z",
            BillingPeriodEnd=f"2026-{month + 1:02d}-01T00:00:00Z",
            ChargePeriodStart=f"2026-{month:02d}-{10 + i:02d}T00:00:00Z",
            ChargePeriodEnd=f"2026-{month:02d}-{10 + i:02d}T01:00:00Z",
            Tags=tags,
        )
    return out


def _inventory() -> pa.Table:
    def res(rid: str, rtype: str, state: str, size: int | None, tags: dict[str, str], **details: Any) -> dict[str, Any]:
        return {
            "provider": "aws",
            "account_id": "617294038821",
            "region": "us-west-2",
            "resource_id": rid,
            "resource_type": rtype,
            "state": state,
            "attached_to": None,
            "created_at": datetime(2026, 6, 1, tzinfo=UTC),
            "last_used_at": None,
            "size": None if size is None else D(size),
            "size_unit": None if size is None else "GiB",
            "tags": json.dumps(tags),
            "details": json.dumps(details),
            "observed_at": datetime(2026, 11, 2, tzinfo=UTC),
        }

    data = [
        res("vol-hostile", "ebs_volume", "available", 200, {"team": HOSTILE_TEAMS[1], "owner": "=cmd"}),
        res("eipalloc-1", "elastic_ip", "unassociated", None, {"owner": "bob"}),
        res("snap-1", "ebs_snapshot", "completed", 50, {}, source_volume_exists=False),
    ]
    return pa.Table.from_pylist(data, schema=OUTPUT_SCHEMA)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Settings, ReportResult]]:
    tmp = tmp_path_factory.mktemp("report")
    gen = generate(tmp / "gen", rows=8000, seed=7, month="2026-09", months=2)
    settings = Settings.model_validate(SETTINGS)
    conn = open_warehouse(tmp / "wh.duckdb")
    try:
        for provider in ("aws", "azure", "gcp"):
            ingest(conn, FocusFiles([str(tmp / "gen" / "focus" / provider)], source=f"gen-{provider}"))
        hostile = write_csv(tmp / "hostile.csv", _hostile_rows(9) + _hostile_rows(10))
        ingest(conn, FocusFiles([str(hostile)], source="hostile"))
        for path in gen.transactions_files:
            load_transactions(conn, path, source="gen")
        run_analysis(conn, settings, now=NOW, jobs=["allocation", "untagged", "unit_cost"])
        for day in (12, 26):
            run_forecast(conn, settings, as_of=date(2026, 10, day))
        anomalies = run_anomalies(conn, settings.anomalies, now=NOW)
        load_inventory(conn, _inventory(), source="aws")
        run_orphans(conn, now=NOW)
        first = anomalies.anomalies["fingerprint"][0]
        conn.execute(
            "INSERT INTO tickets (sink, group_key, external_id, url, status, fingerprints, created_at, updated_at) "
            "VALUES ('jira', 'g1', 'OPS-7', 'https://jira.example/OPS-7', 'open', $fp, now(), now())",
            {"fp": json.dumps([first])},
        )
        result = write_report(conn, settings, period=None, out_dir=tmp / "out")
    finally:
        conn.close()
    yield tmp / "wh.duckdb", settings, result


@pytest.fixture
def ro(built: tuple[Path, Settings, ReportResult]) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(built[0]), read_only=True)
    yield conn
    conn.close()


# ---------------------------------------------------------------- reading the page


class _Tables(HTMLParser):
    """Every <table data-table>: its column names and, per row, (text, data-value) per cell; plus every
    tag and attribute seen (to prove no script, handler or foreign element made it in)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, dict[str, Any]] = {}
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self._table: dict[str, Any] | None = None
        self._cell: list[Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        a = dict(attrs)
        if tag == "table" and "data-table" in a:
            self._table = {"columns": [], "rows": []}
            self.tables[str(a["data-table"])] = self._table
        elif self._table is not None and tag == "th":
            self._table["columns"].append(a["data-column"])
        elif self._table is not None and tag == "tr" and self._table["columns"]:
            self._table["rows"].append([])
        elif self._table is not None and tag == "td":
            self._cell = ["", a.get("data-value")]

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._table is not None and self._cell is not None:
            self._table["rows"][-1].append(tuple(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None


def _parse(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


def _clip(value: object) -> str:
    s = "" if value is None else value.isoformat() if isinstance(value, date) else str(value)
    return s if len(s) <= LABEL_CHARS else s[: LABEL_CHARS - 1] + "…"


def _expected(
    conn: duckdb.DuckDBPyConnection, query: str, keys: list[str], **params: Any
) -> dict[tuple[str, ...], Any]:
    frame = conn.execute(query, params).pl()
    return {tuple(_clip(r[k]) for k in keys): r for r in frame.iter_rows(named=True)}


def _same(shown: str | None, want: object, where: str) -> None:
    if want is None:
        assert shown is None, f"{where}: shows {shown!r}, the warehouse has NULL"
        return
    assert shown is not None, f"{where}: shows nothing, the warehouse has {want!r}"
    if isinstance(want, Decimal):
        assert D(shown) == want, f"{where}: {shown} != {want}"
    elif isinstance(want, float):
        assert float(shown) == pytest.approx(want, rel=1e-9, abs=1e-12), f"{where}: {shown} != {want}"
    elif isinstance(want, int):
        assert int(D(shown)) == want and D(shown) == want, f"{where}: {shown} != {want}"
    elif isinstance(want, date):
        assert shown == want.isoformat(), f"{where}: {shown} != {want}"
    else:
        assert shown == str(want), f"{where}: {shown!r} != {want!r}"


def _check(page: _Tables, key: str, expected: dict[tuple[str, ...], Any], keys: list[str], *, subset: bool) -> int:
    """Every row of table ``key`` found in ``expected`` by its key cells, every data-value equal to the
    expected column of the same name; all expected rows shown unless ``subset``. Returns cells checked."""
    table = page.tables[key]
    cols: list[str] = table["columns"]
    checked = 0
    seen = set()
    for row in table["rows"]:
        cells = dict(zip(cols, row, strict=True))
        k = tuple(cells[c][0] for c in keys)
        assert k in expected, f"{key}: row {k} is not in the warehouse"
        seen.add(k)
        for col, (text, value) in cells.items():
            if col in keys:
                continue
            if col not in expected[k]:
                assert value is None, f"{key}.{col}: figure {value} has no expected value in the test"
                continue
            want = expected[k][col]
            if isinstance(want, str):
                assert text == _clip(want), f"{key}{k}.{col}: {text!r} != {want!r}"
            else:
                _same(value, want, f"{key}{k}.{col}")
            checked += 1
    if not subset:
        assert seen == set(expected), f"{key}: rows missing {set(expected) - seen}"
    return checked


# ---------------------------------------------------------------- figures against SQL written here

OCT = "TIMESTAMPTZ '2026-10-01 00:00:00+00'"
SEP = "TIMESTAMPTZ '2026-09-01 00:00:00+00'"
CHANGE = """
SELECT *, EffectiveCost - previous_EffectiveCost AS change,
       CASE WHEN previous_EffectiveCost <> 0
            THEN CAST(EffectiveCost - previous_EffectiveCost AS DOUBLE)
                 / abs(CAST(previous_EffectiveCost AS DOUBLE)) * 100
       END AS change_pct
FROM ({inner})
"""
MONTH_TOTALS = CHANGE.format(
    inner="""
    SELECT BillingCurrency AS currency,
           coalesce(sum(BilledCost) FILTER (WHERE month = 10), 0) AS BilledCost,
           coalesce(sum(EffectiveCost) FILTER (WHERE month = 10), 0) AS EffectiveCost,
           coalesce(sum(BilledCost) FILTER (WHERE month = 9), 0) AS previous_BilledCost,
           coalesce(sum(EffectiveCost) FILTER (WHERE month = 9), 0) AS previous_EffectiveCost
    FROM (SELECT *, month(timezone('UTC', BillingPeriodStart)) AS month FROM billing)
    GROUP BY BillingCurrency"""
)
SPEND = CHANGE.format(
    inner=f"""
    SELECT value, currency,
           coalesce(sum(BilledCost) FILTER (WHERE oct), 0) AS BilledCost,
           coalesce(sum(EffectiveCost) FILTER (WHERE oct), 0) AS EffectiveCost,
           coalesce(sum(EffectiveCost) FILTER (WHERE NOT oct), 0) AS previous_EffectiveCost
    FROM (SELECT CASE $dim WHEN 'team' THEN team WHEN 'service' THEN service
                           WHEN 'account' THEN coalesce(sub_account, account) ELSE environment END AS value,
                 currency, BilledCost, EffectiveCost, billing_period_start = {OCT} AS oct
          FROM allocated_daily WHERE billing_period_start IN ({SEP}, {OCT}))
    GROUP BY value, currency"""
)
SERVICE_DRIVER = CHANGE.format(
    inner=f"""
    SELECT service, currency, value,
           coalesce(sum(EffectiveCost) FILTER (WHERE billing_period_start = {OCT}), 0) AS EffectiveCost,
           coalesce(sum(EffectiveCost) FILTER (WHERE billing_period_start = {SEP}), 0) AS previous_EffectiveCost
    FROM (SELECT *, CASE $driver WHEN 'team' THEN team WHEN 'account' THEN coalesce(sub_account, account)
                                 WHEN 'region' THEN region ELSE 'all' END AS value FROM allocated_daily)
    WHERE billing_period_start IN ({SEP}, {OCT})
    GROUP BY service, currency, value"""
)
FORECASTS = f"""
SELECT f.made_on, f.currency, f.days_elapsed, f.mtd_actual, f.point, f.lo80, f.hi80, a.actual,
       CAST(f.point - a.actual AS DOUBLE) / abs(CAST(a.actual AS DOUBLE)) * 100 AS error_pct
FROM forecasts f
JOIN (SELECT currency, sum(EffectiveCost) AS actual FROM allocated_daily WHERE billing_period_start = {OCT}
      GROUP BY currency) a USING (currency)
WHERE f.period = DATE '2026-10-01' AND f.scope = 'total'
"""
UNIT_COSTS = f"""
SELECT c.service, c.currency, c.cost, c.transactions, c.cost_per_transaction, c.status,
       p.cost_per_transaction AS previous_cost_per_transaction,
       (CAST(c.cost_per_transaction AS DOUBLE) - CAST(p.cost_per_transaction AS DOUBLE))
           / abs(CAST(p.cost_per_transaction AS DOUBLE)) * 100 AS change_pct
FROM (SELECT * FROM unit_costs WHERE window_kind = 'month' AND window_start = {OCT}) c
LEFT JOIN (SELECT * FROM unit_costs WHERE window_kind = 'month' AND window_start = {SEP}) p
       ON p.service = c.service AND p.currency IS NOT DISTINCT FROM c.currency
"""
UNTAGGED = f"""
WITH m AS (
    SELECT currency, billing_period_start = {OCT} AS oct,
           sum(CASE WHEN status <> 'untaggable' THEN EffectiveCost ELSE 0 END) AS taggable,
           sum(CASE WHEN status = 'untagged' THEN EffectiveCost ELSE 0 END) AS untagged,
           sum(CASE WHEN status = 'mistagged' THEN EffectiveCost ELSE 0 END) AS mistagged,
           sum(CASE WHEN status = 'untaggable' THEN EffectiveCost ELSE 0 END) AS untaggable
    FROM untagged_daily WHERE billing_period_start IN ({SEP}, {OCT}) GROUP BY ALL
)
SELECT o.currency, o.taggable, o.untagged, o.mistagged, o.untagged + o.mistagged AS noncompliant,
       CAST(o.untagged + o.mistagged AS DOUBLE) / CAST(o.taggable AS DOUBLE) * 100 AS noncompliant_pct,
       CAST(s.untagged + s.mistagged AS DOUBLE) / CAST(s.taggable AS DOUBLE) * 100 AS previous_noncompliant_pct,
       o.untaggable
FROM (SELECT * FROM m WHERE oct) o LEFT JOIN (SELECT * FROM m WHERE NOT oct) s USING (currency)
"""
UNTAGGED_ACCOUNTS = f"""
SELECT SubAccountId, ServiceName, currency,
       sum(EffectiveCost) FILTER (WHERE status IN ('untagged', 'mistagged')) AS noncompliant,
       sum(EffectiveCost) FILTER (WHERE status <> 'untaggable') AS taggable
FROM untagged_daily WHERE billing_period_start = {OCT} GROUP BY ALL
"""
UNTAGGED_RESOURCES = f"""
SELECT ResourceId, currency, rank, noncompliant_cost FROM untagged_resources WHERE billing_period_start = {OCT}
"""
UNALLOCATED = f"""
WITH m AS (
    SELECT currency, billing_period_start = {OCT} AS oct, sum(EffectiveCost) AS total,
           sum(CASE WHEN team = 'unallocated' THEN EffectiveCost ELSE 0 END) AS unallocated
    FROM allocated_daily WHERE billing_period_start IN ({SEP}, {OCT}) GROUP BY ALL
)
SELECT o.currency, o.total AS EffectiveCost, o.unallocated,
       CAST(o.unallocated AS DOUBLE) / CAST(o.total AS DOUBLE) * 100 AS unallocated_pct,
       CAST(s.unallocated AS DOUBLE) / CAST(s.total AS DOUBLE) * 100 AS previous_unallocated_pct
FROM (SELECT * FROM m WHERE oct) o LEFT JOIN (SELECT * FROM m WHERE NOT oct) s USING (currency)
"""
UNALLOCATED_TOP = f"""
SELECT coalesce(sub_account, account) AS account, service, currency, sum(EffectiveCost) AS unallocated
FROM allocated_daily WHERE billing_period_start = {OCT} AND team = 'unallocated' GROUP BY ALL
"""
TAG_COVERAGE = f"""
SELECT team, currency, sum(EffectiveCost) AS direct,
       sum(CASE WHEN environment <> 'unallocated' THEN EffectiveCost ELSE 0 END) AS with_environment,
       CAST(sum(CASE WHEN environment <> 'unallocated' THEN EffectiveCost ELSE 0 END) AS DOUBLE)
           / CAST(sum(EffectiveCost) AS DOUBLE) * 100 AS coverage_pct
FROM allocated_daily WHERE billing_period_start = {OCT} AND NOT shared AND team <> 'unallocated' GROUP BY ALL
"""
ORPHANS_BY_KIND = """
SELECT json_extract_string(dimensions, '$.orphan_kind') AS kind, provider AS ProviderName, account_id AS SubAccountId,
       currency, count(*) AS resources, sum(monthly_cost) AS monthly_waste
FROM findings WHERE kind = 'orphan' GROUP BY ALL
"""
ORPHANS = """
SELECT resource_id AS ResourceId, json_extract_string(dimensions, '$.team') AS team,
       json_extract_string(dimensions, '$.owner') AS owner, currency,
       CAST(json_extract_string(details, '$.age_days') AS DOUBLE) AS age_days, monthly_cost
FROM findings WHERE kind = 'orphan'
"""
ANOMALIES = """
SELECT json_extract_string(f.details, '$.kind') AS kind, json_extract_string(f.details, '$.start') AS start,
       f.currency, coalesce(json_extract_string(f.details, '$.end'), 'active') AS "end",
       CAST(json_extract_string(f.details, '$.expected') AS DECIMAL(38, 12)) AS expected,
       CAST(json_extract_string(f.details, '$.actual') AS DECIMAL(38, 12)) AS actual,
       CAST(json_extract_string(f.details, '$.impact') AS DECIMAL(38, 12)) AS impact,
       f.severity,
       coalesce(t.sink || ' ' || t.external_id || ': ' || t.status, 'no ticket') AS ticket
FROM findings f
LEFT JOIN tickets t ON list_contains(CAST(t.fingerprints AS VARCHAR[]), f.fingerprint)
WHERE f.kind = 'anomaly'
  AND CAST(json_extract_string(f.details, '$.start') AS DATE) <= DATE '2026-10-31'
  AND coalesce(CAST(json_extract_string(f.details, '$.end') AS DATE), DATE '9999-12-31') >= DATE '2026-10-01'
"""
RECONCILIATION = """
SELECT ProviderName, BillingAccountId, BillingCurrency AS currency, sum(BilledCost) AS BilledCost,
       sum(EffectiveCost) AS EffectiveCost, count(*) AS rows, string_agg(DISTINCT InvoiceId, ', ') AS invoice_ids
FROM billing WHERE BillingPeriodStart = TIMESTAMPTZ '2026-10-01 00:00:00+00' GROUP BY ALL
"""
BUDGET_ACTUAL = f"""
SELECT sum(EffectiveCost) FROM allocated_daily
WHERE billing_period_start = {OCT} AND currency = $currency AND ($scope = 'total' OR team = $value)
"""
BUDGET_FORECAST = """
SELECT made_on, point, lo80, hi80 FROM forecasts
WHERE period = DATE '2026-10-01' AND scope = $scope AND scope_value IS NOT DISTINCT FROM $value AND currency = $currency
ORDER BY made_on DESC LIMIT 1
"""


def _budgets(conn: duckdb.DuckDBPyConnection) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for b in SETTINGS["budgets"]:
        params = {"scope": b["scope"], "value": b.get("value"), "currency": b["currency"]}
        row = conn.execute(BUDGET_ACTUAL, params).fetchone()
        actual = row[0] if row and row[0] is not None else D(0)
        fc = conn.execute(BUDGET_FORECAST, params).fetchone() or (None, None, None, None)
        stored = conn.execute("SELECT status FROM budget_status WHERE name = $n", {"n": b["name"]}).fetchone()
        amount = D(b["amount"])
        out[(_clip(b["name"]),)] = {
            "amount": amount,
            "actual": actual,
            "used_pct": float(actual) / float(amount) * 100,
            "made_on": fc[0],
            "point": fc[1],
            "lo80": fc[2],
            "hi80": fc[3],
            "status": stored[0] if stored else "ok",
        }
    return out


def test_every_table_figure_matches_the_warehouse(
    built: tuple[Path, Settings, ReportResult], ro: duckdb.DuckDBPyConnection
) -> None:
    result = built[2]
    assert (result.period, result.complete) == ("2026-10", True)
    page = _parse(result.html.read_text(encoding="utf-8"))
    checked = {
        "summary": _check(page, "summary", _expected(ro, MONTH_TOTALS, ["currency"]), ["currency"], subset=False),
        "forecast_accuracy": _check(
            page,
            "forecast_accuracy",
            _expected(ro, FORECASTS, ["made_on", "currency"]),
            ["made_on", "currency"],
            subset=False,
        ),
        "unit_costs": _check(
            page,
            "unit_costs",
            _expected(ro, UNIT_COSTS, ["service", "currency"]),
            ["service", "currency"],
            subset=False,
        ),
        "untagged": _check(page, "untagged", _expected(ro, UNTAGGED, ["currency"]), ["currency"], subset=False),
        "unallocated": _check(
            page, "unallocated", _expected(ro, UNALLOCATED, ["currency"]), ["currency"], subset=False
        ),
        "tag_coverage": _check(
            page, "tag_coverage", _expected(ro, TAG_COVERAGE, ["team", "currency"]), ["team", "currency"], subset=False
        ),
        "orphans_by_kind": _check(
            page,
            "orphans_by_kind",
            _expected(ro, ORPHANS_BY_KIND, k := ["kind", "ProviderName", "SubAccountId", "currency"]),
            k,
            subset=False,
        ),
        "orphans": _check(page, "orphans", _expected(ro, ORPHANS, ["ResourceId"]), ["ResourceId"], subset=False),
        "anomalies": _check(
            page, "anomalies", _expected(ro, ANOMALIES, k := ["kind", "start", "currency"]), k, subset=False
        ),
        "budgets": _check(page, "budgets", _budgets(ro), ["name"], subset=False),
        "reconciliation": _check(
            page,
            "reconciliation",
            _expected(ro, RECONCILIATION, k := ["ProviderName", "BillingAccountId", "currency"]),
            k,
            subset=False,
        ),
    }
    # Top-N lists: every row shown is right; the warehouse may hold more.
    top = {
        "untagged_accounts": (UNTAGGED_ACCOUNTS, ["SubAccountId", "ServiceName", "currency"]),
        "untagged_resources": (UNTAGGED_RESOURCES, ["ResourceId", "currency"]),
        "unallocated_top": (UNALLOCATED_TOP, ["account", "service", "currency"]),
    }
    for key, (query, keys) in top.items():
        checked[key] = _check(page, key, _expected(ro, query, keys), keys, subset=True)
    for dim in ("team", "service", "account", "environment"):
        spend = _expected(ro, SPEND, ["value", "currency"], dim=dim)
        checked[f"spend_{dim}"] = _check(page, f"spend_{dim}", spend, ["value", "currency"], subset=False)
        checked[f"movers_{dim}"] = _check(page, f"movers_{dim}", spend, ["value", "currency"], subset=True)
        assert 0 < len(page.tables[f"movers_{dim}"]["rows"]) <= 5
    checked["movers"] = _check_movers(page, ro)
    assert set(checked) == set(page.tables), f"tables not checked: {set(page.tables) - set(checked)}"
    empty = [k for k, n in checked.items() if n == 0]
    assert not empty, f"tables without a single figure checked: {empty}"


def _check_movers(page: _Tables, conn: duckdb.DuckDBPyConnection) -> int:
    """The three services whose change is the largest share of their currency's spend (both months' larger
    total), each driver the value whose own change went furthest in the service's direction (ties: by name)."""
    totals = _expected(conn, SERVICE_DRIVER, ["service", "currency"], driver="all")
    scale: dict[str, list[Decimal]] = {}
    for (_, cur), r in totals.items():
        scale.setdefault(cur, [D(0), D(0)])
        scale[cur][0] += r["EffectiveCost"]
        scale[cur][1] += r["previous_EffectiveCost"]
    shares = sorted((-abs(r["change"]) / max(scale[k[1]]), k) for k, r in totals.items() if r["change"] != 0)
    expected: dict[tuple[str, ...], Any] = {}
    for rank, (_, key) in enumerate(shares[:3], start=1):
        want = {n: v for n, v in totals[key].items() if n not in ("service", "currency", "value")} | {"rank": rank}
        sign = 1 if want["change"] > 0 else -1
        for driver in ("team", "account", "region"):
            parts = [
                (-r["change"] * sign, k[2], r["change"])
                for k, r in _expected(conn, SERVICE_DRIVER, ["service", "currency", "value"], driver=driver).items()
                if k[:2] == key and r["change"] * sign > 0
            ]
            _, value, change = min(parts) if parts else (None, None, None)
            want |= {driver: value, f"{driver}_change": change}
        expected[key] = want
    table = page.tables["movers"]
    shown = [tuple(row[table["columns"].index(c)][0] for c in ("service", "currency")) for row in table["rows"]]
    assert shown == list(expected), "movers are not the largest changes"
    return _check(page, "movers", expected, ["service", "currency"], subset=False)


# ---------------------------------------------------------------- hostile values, extracts


def test_hostile_tag_values_render_as_text(built: tuple[Path, Settings, ReportResult]) -> None:
    html = built[2].html.read_text(encoding="utf-8")
    page = _parse(html)
    tags = {t for t, _ in page.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed", "link", "base", "foreignobject", "form"}
    handlers = [(t, n) for t, attrs in page.tags for n, _ in attrs if n.lower().startswith("on")]
    assert handlers == []
    hrefs = [v for _, attrs in page.tags for n, v in attrs if n in ("href", "xlink:href", "src")]
    assert all(v and v.startswith("#") for v in hrefs), hrefs
    assert "<script" not in html.lower()
    teams = {row[0][0] for row in page.tables["spend_team"]["rows"]}
    assert {_clip(t) for t in HOSTILE_TEAMS} <= teams  # shown as text, long values clipped
    assert _clip(LONG) in teams and "L" * 1001 not in html  # cut in cells, charts and the cell's title
    services = {row[0][0] for row in page.tables["spend_service"]["rows"]}
    assert HOSTILE_SERVICE in services
    assert "&lt;script&gt;alert(&#34;team&#34;)&lt;/script&gt;" in html or "&lt;script&gt;alert(&quot;team" in html


def test_extracts_match_the_warehouse_and_neutralize_formulas(
    built: tuple[Path, Settings, ReportResult], ro: duckdb.DuckDBPyConnection
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    result = built[2]
    spend = _expected(ro, SPEND, ["value", "currency"], dim="team")
    raw = {(r["value"], r["currency"]): r for r in spend.values()}

    with result.csv.open(newline="", encoding="utf-8") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert len(csv_rows) == len(raw)
    for row in csv_rows:
        assert not row["team"].startswith(("=", "+", "-", "@", "\t", "\r")), row["team"]
        team = row["team"][1:] if row["team"].startswith("'") and row["team"][1:2] in "=+-@\t\r" else row["team"]
        want = raw[(team, row["currency"])]
        assert D(row["EffectiveCost"]) == want["EffectiveCost"]
        assert D(row["BilledCost"]) == want["BilledCost"]
        assert D(row["previous_EffectiveCost"]) == want["previous_EffectiveCost"]
    assert {r["team"] for r in csv_rows} >= {"'" + t for t in HOSTILE_TEAMS[2:6]}

    parquet = pl.read_parquet(result.parquet)
    assert parquet.schema["EffectiveCost"] == pl.Decimal(38, 12)
    assert {(r["team"], r["currency"]): r["EffectiveCost"] for r in parquet.iter_rows(named=True)} == {
        k: r["EffectiveCost"] for k, r in raw.items()
    }

    book = openpyxl.load_workbook(result.xlsx)
    assert book.sheetnames == [
        "Summary",
        "Spend",
        "Unit costs",
        "Untagged",
        "Orphans",
        "Anomalies",
        "Budgets",
        "Reconciliation",
    ]
    money_formats = set()
    hostile_seen = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r")), cell.value
                    hostile_seen += cell.value == "'" + HOSTILE_TEAMS[2]
                elif isinstance(cell.value, float | int) and "[$" in cell.number_format:
                    money_formats.add(cell.number_format)
    assert hostile_seen >= 1
    assert {"[$USD] #,##0.00", "[$EUR] #,##0.00"} <= money_formats
    # The team sheet block: numbers are numbers, equal to the warehouse (as doubles).
    sheet_rows = [[c.value for c in r] for r in book["Spend"].iter_rows()]
    first = [r[0] for r in sheet_rows].index("By team") + 2  # title, header, then the rows
    block = sheet_rows[first : first + len(raw)]
    assert {(r[0], r[1]): r[3] for r in block} == {
        (neutralize(team), cur): pytest.approx(float(r["EffectiveCost"])) for (team, cur), r in raw.items()
    }


def test_neutralize() -> None:
    assert [neutralize(s) for s in ["=1+2", "+1", "-1", "@x", "\tx", "\rx", "a=b", "", "'=x"]] == [
        "'=1+2",
        "'+1",
        "'-1",
        "'@x",
        "'\tx",
        "'\rx",
        "a=b",
        "",
        "'=x",
    ]
    frame = pl.DataFrame({"a": ["=x", "ok", None], "n": [-1, 2, 3]})
    assert neutralize_frame(frame).to_dict(as_series=False) == {"a": ["'=x", "ok", None], "n": [-1, 2, 3]}


# ---------------------------------------------------------------- the page in headless Chromium

CHROMIUM = Path("/usr/bin/chromium")


def _chromium() -> Any:
    """Playwright's sync API with Debian's Chromium; skipped without them, except under CI=true."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed"
    if missing is None and not CHROMIUM.exists():
        missing = f"{CHROMIUM} is absent (Debian package chromium; `make system-deps` installs it)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}: CI must run the browser test")
        pytest.skip(missing)
    return sync_playwright


def test_report_renders_in_chromium(built: tuple[Path, Settings, ReportResult], tmp_path: Path) -> None:
    sync_playwright = _chromium()
    result = built[2]
    url = result.html.resolve().as_uri()
    console: list[str] = []
    errors: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on(
                "console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))

            def dialog(d: Any) -> None:  # alert() from an injected script would land here
                dialogs.append(d.message)
                d.dismiss()

            page.on("dialog", dialog)
            page.goto(url, wait_until="load")
            charts = page.eval_on_selector_all(
                "figure.chart",
                """els => els.map(e => {
                    const s = e.querySelector(':scope > svg');
                    if (!s) return null;
                    const r = s.getBoundingClientRect();
                    return {w: r.width, h: r.height, marks: s.querySelectorAll('path, rect, line').length};
                })""",
            )
            scripts = page.evaluate("document.scripts.length")
            team_text = page.inner_text("table[data-table=spend_team]")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    kept = ARTIFACTS / f"report-{result.period}.png"
    shutil.copyfile(shot, kept)
    print(f"screenshot: {kept}")
    assert console == [] and errors == [] and dialogs == []
    assert requests == [url], f"the report fetched {requests[1:]}"
    assert len(charts) == result.charts >= 8
    assert all(c and c["w"] > 100 and c["h"] > 50 and c["marks"] > 0 for c in charts), charts
    assert scripts == 0
    assert '<script>alert("team")</script>' in team_text and "<img src=x onerror=alert(1)>" in team_text
    assert shot.stat().st_size > 50_000


# ---------------------------------------------------------------- period choice, empty warehouses, CLI


def _month_rows(start: str, end: str, cost: str = "2.00", **over: Any) -> list[dict[str, Any]]:
    period = start[:7] + "-01T00:00:00Z"
    y, m = int(start[:4]), int(start[5:7])
    nxt = f"{y + m // 12}-{m % 12 + 1:02d}-01T00:00:00Z"
    return rows(
        1,
        BillingPeriodStart=period,
        BillingPeriodEnd=nxt,
        ChargePeriodStart=start,
        ChargePeriodEnd=end,
        BilledCost=cost,
        EffectiveCost=cost,
        **over,
    )


def test_default_period_is_the_latest_complete_one(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with pytest.raises(ExporterError, match="no billing data"):
        default_period(wh)

    def add(name: str, data: list[dict[str, Any]]) -> tuple[str, bool]:
        ingest(wh, FocusFiles([str(write_csv(tmp_path / f"{name}.csv", data))], source=name))
        month = resolve_month(wh, None)
        return month.key, month.complete

    assert add("oct", _month_rows("2026-10-05T00:00:00Z", "2026-10-05T01:00:00Z")) == ("2026-10", False)
    assert add("nov", _month_rows("2026-11-03T00:00:00Z", "2026-11-03T01:00:00Z")) == ("2026-10", True)
    # A month-long fee (support, booked for all of November) does not make November look complete.
    fee = _month_rows("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", ChargeFrequency="Recurring")
    assert add("fee", fee) == ("2026-10", True)
    assert add("dec", _month_rows("2026-12-01T00:00:00Z", "2026-12-01T01:00:00Z")) == ("2026-11", True)
    settings = Settings.model_validate({})
    result = write_report(wh, settings, period=None, out_dir=tmp_path / "out")
    assert (result.period, result.complete) == ("2026-11", True)
    partial = write_report(wh, settings, period="2026-12", out_dir=tmp_path / "dec")
    assert partial.complete is False
    html = partial.html.read_text(encoding="utf-8")
    assert "month to date" in html and "Nothing to show" not in html
    assert "No allocated spend this month" in html and "No ticket sink configured" in html  # nothing analysed
    assert partial.charts == 0
    with pytest.raises(ExporterError, match="not YYYY-MM"):
        write_report(wh, settings, period="2026-13", out_dir=tmp_path / "bad")


def test_cli_report(tmp_path: Path) -> None:
    from spendscope.cli import app

    wh = tmp_path / "wh.duckdb"
    conn = open_warehouse(wh)
    try:
        data = _month_rows("2026-10-05T00:00:00Z", "2026-10-05T01:00:00Z")
        ingest(conn, FocusFiles([str(write_csv(tmp_path / "oct.csv", data))], source="s"))
    finally:
        conn.close()
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["--warehouse", str(wh), "report", "--period", "2026-10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {
        "report.html",
        "report.xlsx",
        "costs_by_team.csv",
        "costs_by_team.parquet",
    }
    assert "report of 2026-10" in result.output
    bad = CliRunner().invoke(app, ["--warehouse", str(wh), "report", "--period", "October"])
    assert bad.exit_code == 1 and "not YYYY-MM" in bad.output


def test_report_settings_are_strict() -> None:
    assert Settings.model_validate({"report": {"top_series": 3}}).report == ReportSettings(top_series=3)
    with pytest.raises(ValueError, match="extra"):
        Settings.model_validate({"report": {"colour": "red"}})


# ---------------------------------------------------------------- pure shaping, by hand


def test_fold_series_keeps_the_top_values_and_sums_the_rest() -> None:
    d1, d2 = date(2026, 10, 1), date(2026, 10, 2)
    daily = pl.DataFrame(
        {
            "currency": ["USD"] * 5 + ["EUR"],
            "value": ["a", "b", "c", "c", None, "z"],
            "day": [d1, d1, d1, d2, d2, d1],
            "EffectiveCost": [D("10"), D("5"), D("4"), D("4"), D("1"), D("7")],
        },
        schema_overrides={"EffectiveCost": pl.Decimal(38, 12)},
    )
    folded = fold_series(daily, group=["currency"], top_n=2, value="value")
    got = {(r["currency"], r["value"], r["day"]): r["EffectiveCost"] for r in folded.iter_rows(named=True)}
    # USD totals: a 10, c 8, b 5, (none) 1 → a and c kept; b (5 on d1) and (none) (1 on d2) are "other (2 more)".
    assert got == {
        ("USD", "a", d1): 10.0,
        ("USD", "c", d1): 4.0,
        ("USD", "c", d2): 4.0,
        ("USD", "other (2 more)", d1): 5.0,
        ("USD", "other (2 more)", d2): 1.0,
        ("EUR", "z", d1): 7.0,
    }


def _drivers(rows_: list[tuple[str, str, str | None, str | None, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows_,
        schema={
            "service": pl.String,
            "currency": pl.String,
            "driver": pl.String,
            "value": pl.String,
            "EffectiveCost": pl.String,
            "previous_EffectiveCost": pl.String,
        },
        orient="row",
    ).with_columns(pl.col("EffectiveCost", "previous_EffectiveCost").cast(pl.Decimal(38, 12)))


def test_rank_movers_compares_shares_of_each_currency_and_picks_directed_drivers() -> None:
    frame = _drivers(
        [
            # USD spend 1,000 → 1,100: EC2 +100 (10 % of 1,100); S3 0.
            ("EC2", "USD", None, None, "600", "500"),
            ("EC2", "USD", "team", "web", "500", "300"),  # +200: the driver
            ("EC2", "USD", "team", "ml", "100", "200"),  # −100: against the direction
            ("EC2", "USD", "region", "us-east-1", "600", "500"),
            ("S3", "USD", None, None, "500", "500"),
            # EUR spend 100 → 60: VM −40 (40 % of 100): the biggest mover despite fewer euros.
            ("VM", "EUR", None, None, "60", "100"),
            ("VM", "EUR", "team", "ml", "20", "70"),  # −50 (direction: down)
            ("VM", "EUR", "team", "web", "40", "30"),
        ]
    )
    movers = rank_movers(frame, n=3)
    assert movers.select("rank", "service", "currency", "change", "team", "team_change", "region").rows() == [
        (1, "VM", "EUR", D("-40"), "ml", D("-50"), None),
        (2, "EC2", "USD", D("100"), "web", D("200"), "us-east-1"),
    ]


def test_budget_table_status_and_burn_path() -> None:
    money = pl.Decimal(38, 12)
    budgets = pl.DataFrame(
        [
            ("over", "total", None, "USD", D("100")),
            ("risk", "team", "ml", "USD", D("100")),
            ("calm", "team", "web", "USD", D("100")),
            ("empty", "team", "nobody", "USD", D("100")),
            ("stored", "team", "web", "USD", D("100")),
        ],
        schema={
            "name": pl.String,
            "scope": pl.String,
            "scope_value": pl.String,
            "currency": pl.String,
            "amount": money,
        },
        orient="row",
    )
    days = [date(2026, 10, d) for d in (1, 2)]
    daily = pl.DataFrame(
        {
            "scope": ["total", "total", "team", "team", "team"],
            "scope_value": [None, None, "ml", "ml", "web"],
            "currency": ["USD"] * 5,
            "day": [*days, *days, days[0]],
            "EffectiveCost": [D("60"), D("50"), D("20"), D("20"), D("10")],
        },
        schema_overrides={"EffectiveCost": money},
    )
    forecasts = pl.DataFrame(
        [("team", "ml", "USD", date(2026, 10, 3), D("40"), D("130"), D("120"), D("140"))],
        schema={
            "scope": pl.String,
            "scope_value": pl.String,
            "currency": pl.String,
            "made_on": pl.Date,
            "mtd_actual": money,
            "point": money,
            "lo80": money,
            "hi80": money,
        },
        orient="row",
    )
    stored = pl.DataFrame(
        [("stored", "at_risk", date(2026, 10, 20))],
        schema={"name": pl.String, "status": pl.String, "exhaustion_date": pl.Date},
        orient="row",
    )
    table = budget_table(budgets, daily, forecasts, stored, month_complete=False)
    assert table.select("name", "actual", "used_pct", "status").rows() == [
        ("over", D("110"), pytest.approx(110.0), "over"),  # 60 + 50 > 100
        ("risk", D("40"), pytest.approx(40.0), "at_risk"),  # forecast 130 > 100
        ("calm", D("10"), pytest.approx(10.0), "ok"),
        ("empty", D("0"), 0.0, "no_data"),
        ("stored", D("10"), pytest.approx(10.0), "at_risk"),  # the stored status wins
    ]
    assert budget_table(budgets, daily, forecasts, stored, month_complete=True)["status"][1] == "ok"
    path = budget_paths(table.filter(pl.col("name") == "risk"), daily, first_day=date(2026, 10, 1), days=31)
    assert path["pace"][0] == pytest.approx(100 / 31) and path["pace"][30] == pytest.approx(100.0)
    assert path["actual"].to_list()[:3] == [20.0, 40.0, None]  # cumulative, up to the last day with data
    # The band runs from the forecast's month-to-date actual (40, end of Oct 2) to month end (lo 120, point 130).
    assert path["point"][0] is None and path["point"][1] == pytest.approx(40.0)
    assert path["point"][30] == pytest.approx(130.0) and path["lo80"][30] == pytest.approx(120.0)
    assert path["point"][16] == pytest.approx(40 + 15 / 29 * 90)


def test_chart_svg_must_be_inert() -> None:
    ok = '<svg xmlns="http://www.w3.org/2000/svg"><text>&lt;script&gt;</text><a href="#x"/></svg>'
    check_inert(ok)
    for bad in (
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink"><a x:href="https://e.x"/></svg>',
        "<svg><text>unclosed</svg>",
    ):
        with pytest.raises(ExporterError):
            check_inert(bad)
