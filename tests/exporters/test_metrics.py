"""The Prometheus exporter: hand-computed figures, the snapshot cache, and a real Prometheus scraping it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from spendscope.analysis.allocation import AllocationRules, run_allocation
from spendscope.analysis.untagged import TagPolicy, run_untagged
from spendscope.collectors.focus import FocusFiles
from spendscope.config import Settings
from spendscope.errors import WarehouseInUse
from spendscope.exporters.metrics import (
    METRIC_NAMES,
    CostMetricsCollector,
    MetricsSettings,
    build_families,
    fold_top_services,
)
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse
from tests.servers import free_port

from ..conftest import rows, write_csv

D = Decimal


def _usage(day: int, hour: int, cost: str, tags: str, **over: Any) -> dict[str, Any]:
    row = rows(
        1,
        BilledCost=cost,
        EffectiveCost=cost,
        Tags=tags,
        ChargePeriodStart=f"2026-10-{day:02d}T{hour:02d}:00:00Z",
        ChargePeriodEnd=f"2026-10-{day:02d}T{hour + 1:02d}:00:00Z" if hour < 23 else f"2026-10-{day + 1:02d}T00:00:00Z",
    )[0]
    row.update(over)
    return row


PAY = '{"team": "payments", "env": "prod"}'
S3 = {"ServiceName": "Amazon S3", "ServiceCategory": "Storage", "ServiceSubcategory": "Object Storage"}
# October 2026, one AWS account (SubAccountId from BASE_ROW), USD. Usage runs to Oct 3 01:00, so Oct 2
# is the most recent complete day (Oct 3 has one hour only).
BILL = [
    _usage(1, 0, "10.00", PAY),  # EC2 payments/prod
    _usage(2, 0, "4.80", PAY),  # EC2 payments/prod, Oct 2
    _usage(2, 5, "2.40", PAY, **S3),  # S3 payments/prod, Oct 2
    _usage(2, 6, "1.20", "{}", **S3),  # S3 unallocated, Oct 2, untagged
    _usage(3, 0, "100.00", PAY),  # EC2, Oct 3 (incomplete day)
]


@pytest.fixture
def analysed(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    ingest(wh, FocusFiles([str(write_csv(tmp_path / "bill.csv", BILL))], source="bill"))
    run_allocation(wh, AllocationRules())
    run_untagged(wh, TagPolicy(required_keys=["team", "env"]))
    return wh


def _samples(families: list[Any], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for f in families for s in f.samples if s.name == name}


def test_cost_untagged_and_collector_figures_by_hand(analysed: duckdb.DuckDBPyConnection) -> None:
    families = build_families(analysed, MetricsSettings())
    account = rows(1)[0]["SubAccountId"]
    base = {"provider": "AWS", "account": account, "currency": "USD"}

    def key(service: str, team: str, env: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({**base, "service": service, "team": team, "environment": env}.items()))

    mtd = _samples(families, "spendscope_cost_month_to_date")
    assert mtd == {
        key("Amazon EC2", "payments", "prod"): pytest.approx(114.80),  # 10 + 4.80 + 100
        key("Amazon S3", "payments", "prod"): pytest.approx(2.40),
        key("Amazon S3", "unallocated", "unallocated"): pytest.approx(1.20),
    }
    rate = _samples(families, "spendscope_cost_hourly_rate")
    assert rate[key("Amazon EC2", "payments", "prod")] == pytest.approx(4.80 / 24)  # Oct 2 only
    assert rate[key("Amazon S3", "payments", "prod")] == pytest.approx(2.40 / 24)
    assert rate[key("Amazon S3", "unallocated", "unallocated")] == pytest.approx(1.20 / 24)
    # Untagged: 1.20 of 118.40 taggable.
    assert _samples(families, "spendscope_untagged_cost_ratio") == {
        (("account", account),): pytest.approx(1.20 / 118.40)
    }
    assert _samples(families, "spendscope_collector_rows_total") == {(("source", "bill"),): 5.0}
    assert _samples(families, "spendscope_collector_errors_total") == {(("source", "bill"),): 0.0}
    latest = _samples(families, "spendscope_billing_data_latest_timestamp_seconds")
    assert latest == {(("source", "bill"),): 1790989200.0}  # 2026-10-03T01:00:00Z
    # Every family emitted is declared (name, type), so dashboards and rules can be checked against it.
    for family in families:
        assert family.name in METRIC_NAMES and family.type == METRIC_NAMES[family.name][0], family.name


def test_top_services_fold_conserves_money() -> None:
    frame = pl.DataFrame(
        {
            "provider": ["AWS"] * 4 + ["GCP"],
            "account": ["a"] * 4 + ["p"],
            "service": ["EC2", "S3", "RDS", "RDS", "BigQuery"],
            "team": ["x", "x", "x", "y", "x"],
            "environment": ["prod"] * 5,
            "currency": ["USD"] * 5,
            "month_to_date": [D("50"), D("30"), D("5"), D("6"), D("1")],
            "hourly_rate": [D("2"), D("1"), D("0.5"), D("0.25"), D("0.1")],
        }
    )
    folded = fold_top_services(frame, top=2)
    got = {(r["provider"], r["service"], r["team"]): r["month_to_date"] for r in folded.iter_rows(named=True)}
    # AWS/a ranks EC2 50, S3 30, RDS 11: RDS becomes 'other' (team x 5, team y 6); GCP/p keeps BigQuery.
    assert got == {
        ("AWS", "EC2", "x"): D("50"),
        ("AWS", "S3", "x"): D("30"),
        ("AWS", "other", "x"): D("5"),
        ("AWS", "other", "y"): D("6"),
        ("GCP", "BigQuery", "x"): D("1"),
    }
    assert folded["hourly_rate"].sum() == frame["hourly_rate"].sum()


def test_snapshot_is_cached_and_survives_a_locked_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    conn = open_warehouse(path)
    ingest(conn, FocusFiles([str(write_csv(tmp_path / "bill.csv", BILL))], source="bill"))
    conn.close()
    now = [1000.0]
    calls: list[str] = []
    fail = [False]

    def connect() -> duckdb.DuckDBPyConnection:
        calls.append("connect")
        if fail[0]:
            raise WarehouseInUse("warehouse in use by pid 1", source=str(path))
        return open_warehouse(path, read_only=True)

    collector = CostMetricsCollector(connect, MetricsSettings(refresh_seconds=30), clock=lambda: now[0])
    registry = CollectorRegistry()
    registry.register(collector)

    def scrape() -> dict[str, float]:
        text = generate_latest(registry).decode()
        return {
            s.name + json.dumps(s.labels, sort_keys=True): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }

    first = scrape()
    assert first['spendscope_collector_rows_total{"source": "bill"}'] == 5.0
    assert len(calls) == 1
    now[0] += 10
    assert scrape() == first and len(calls) == 1  # within refresh_seconds: no warehouse access
    now[0] += 30
    fail[0] = True
    again = scrape()  # the warehouse is held by a writer: the previous snapshot is served
    assert len(calls) == 2
    assert again['spendscope_collector_rows_total{"source": "bill"}'] == 5.0
    assert again["spendscope_metrics_refresh_errors_total{}"] == 1.0
    assert again["spendscope_metrics_snapshot_timestamp_seconds{}"] == 1000.0
    fail[0] = False
    conn = open_warehouse(path)
    more = write_csv(tmp_path / "more" / "bill.csv", [_usage(4, 0, "1.00", PAY)])
    ingest(conn, FocusFiles([str(more)], source="more"))
    conn.close()
    now[0] += 30
    fresh = scrape()  # a new load changed the warehouse's version: rebuilt
    assert fresh['spendscope_collector_rows_total{"source": "more"}'] == 1.0
    assert fresh["spendscope_metrics_snapshot_timestamp_seconds{}"] == now[0]


# ---------------------------------------------------------------- a real Prometheus scrapes `metrics serve`


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spendscope.analysis.run import run_analysis
    from spendscope.generator import generate

    root = tmp_path_factory.mktemp("metrics-demo")
    result = generate(root / "bill", rows=20_000, seed=5, month="2026-10")
    path = root / "wh.duckdb"
    conn = open_warehouse(path)
    try:
        for provider in ("aws", "azure", "gcp"):
            ingest(conn, FocusFiles([str(root / "bill" / "focus" / provider)], source=f"demo-{provider}"))
        assert result.rows > 0
        run_analysis(conn, Settings(), jobs=["allocation", "untagged"])
    finally:
        conn.close()
    return path


@pytest.fixture
def metrics_server(demo_warehouse: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPENDSCOPE_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spendscope.cli",
            "--warehouse",
            str(demo_warehouse),
            "metrics",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return bool(response.status == 200)

    try:
        _poll(ready, proc)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _poll(ready: Callable[[], bool], proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"metrics serve exited: {out[-2000:]}")
        time.sleep(0.2)
    raise AssertionError("timed out")


def _query(prom: str, promql: str) -> list[dict[str, Any]]:
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_prometheus_scrapes_the_warehouse_figures(
    metrics_server: str, demo_warehouse: Path, prometheus_scraper: Callable[[str], str]
) -> None:
    prom = prometheus_scraper(metrics_server)
    _poll(lambda: bool(_query(prom, "spendscope_collector_rows_total")))
    mtd = {
        r["metric"]["currency"]: float(r["value"][1])
        for r in _query(prom, "sum by (currency) (spendscope_cost_month_to_date)")
    }
    rows_total = {r["metric"]["source"]: float(r["value"][1]) for r in _query(prom, "spendscope_collector_rows_total")}
    untagged = {r["metric"]["account"]: float(r["value"][1]) for r in _query(prom, "spendscope_untagged_cost_ratio")}
    # The same figures by independent SQL over billing (not the exporter's queries).
    with duckdb.connect(str(demo_warehouse), read_only=True) as conn:
        expected_mtd = dict(
            conn.execute(
                "SELECT BillingCurrency, sum(EffectiveCost)::DOUBLE FROM billing "
                "WHERE BillingPeriodStart = (SELECT max(BillingPeriodStart) FROM billing) GROUP BY 1"
            ).fetchall()
        )
        expected_rows = dict(
            conn.execute(
                "SELECT i.source, count(*)::DOUBLE FROM billing b JOIN ingests i ON b.x_IngestId = i.ingest_id "
                "GROUP BY 1"
            ).fetchall()
        )
        # Untagged ratio per account: charges with neither a non-empty team nor env tag, or only one of
        # them, over charges that can carry tags (not Tax/Credit/Adjustment, not Support).
        expected_untagged = dict(
            conn.execute(
                """
                WITH t AS (
                    SELECT SubAccountId, EffectiveCost, Tags,
                           list_filter(json_keys(Tags), k -> lower(k) = 'team')[1] AS team_key,
                           list_filter(json_keys(Tags), k -> lower(k) = 'env')[1] AS env_key
                    FROM billing
                    WHERE ChargeCategory NOT IN ('Tax', 'Credit', 'Adjustment')
                      AND coalesce(ServiceSubcategory, '') <> 'Support' AND SubAccountId IS NOT NULL
                ),
                c AS (
                    SELECT SubAccountId, EffectiveCost,
                           coalesce(trim(json_extract_string(Tags, '$."' || team_key || '"')), '') = ''
                           OR coalesce(trim(json_extract_string(Tags, '$."' || env_key || '"')), '') = '' AS bad
                    FROM t
                )
                SELECT SubAccountId, (coalesce(sum(EffectiveCost) FILTER (WHERE bad), 0) / sum(EffectiveCost))::DOUBLE
                FROM c GROUP BY 1
                """
            ).fetchall()
        )
    assert mtd.keys() == expected_mtd.keys()
    for currency, value in expected_mtd.items():
        assert mtd[currency] == pytest.approx(value, rel=1e-9), currency
    assert rows_total == expected_rows
    assert untagged.keys() == expected_untagged.keys()
    for account, ratio in expected_untagged.items():
        assert untagged[account] == pytest.approx(ratio or 0.0, abs=1e-9), account
