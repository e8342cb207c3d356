"""Spend anomalies: hand-computed series, drivers ranked by hand, the warehouse path and the CLI contract.

Series here are built by hand (exact weekly patterns, or seeded numpy noise where only a property is
checked); expected figures come from the arithmetic in the comments, never from the code under test.
With min_impact c = 10 the detector works on u = cost + 10: a weekday cost of 100 and a weekend cost
of 50 are u = 110 and 60; the centred 7-day median is 110, so the weekday factors are 1 and 60/110,
every deseasonalized value is 110 and the expected cost is 110 × factor − 10: 100 on weekdays, 50 at
weekends. Without noise the band is its floor, min_band = 0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from spendscope.analysis.allocation import AllocationRules, Dimension, RuleSet, run_allocation
from spendscope.analysis.anomalies import AnomalySettings, fingerprint, run_anomalies
from spendscope.analysis.anomaly_detect import SeriesKind, detect, score_days
from spendscope.analysis.anomaly_drivers import rank_drivers
from spendscope.collectors.focus import FocusFiles
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse

from ..conftest import rows, write_parquet

D = Decimal
DAY0 = date(2026, 8, 3)  # a Monday
SETTINGS = AnomalySettings()  # min_impact 10, min_relative_change 0.2


def day(i: int) -> date:
    return DAY0 + timedelta(days=i)


def weekly(n: int, weekday: float = 100.0, weekend: float = 50.0) -> list[float]:
    return [weekend if day(i).weekday() >= 5 else weekday for i in range(n)]


def series(costs: dict[str, list[float]]) -> pl.DataFrame:
    """ServiceName, currency, day, cost; days without cost are left out (they cost 0)."""
    return pl.DataFrame(
        [
            {"ServiceName": name, "currency": "USD", "day": day(i), "cost": c}
            for name, values in costs.items()
            for i, c in enumerate(values)
            if c
        ]
    )


def approx(value: Decimal | float | None) -> float:
    assert value is not None
    return round(float(value), 6)


# ---- the pure detector on hand-computed series ----


def test_one_five_fold_day_is_one_spike() -> None:
    costs = weekly(70)
    costs[52] = 500.0  # day 52 is a Thursday (52 = 7 × 7 + 3): expected 100
    found = detect(series({"svc": costs}), SETTINGS)
    assert found.height == 1
    row = found.row(0, named=True)
    assert (row["kind"], row["start"], row["end"], row["detected_on"]) == ("spike", day(52), day(52), day(52))
    assert (approx(row["expected"]), approx(row["actual"]), approx(row["impact"])) == (100, 500, 400)
    assert row["relative_change"] == pytest.approx(4.0)  # 400 / 100
    # 400 a day is 40 × the floor (money: critical) and +400 % (relative: critical)
    assert (row["severity"], row["flagged_days"], row["currency"]) == ("critical", 1, "USD")


def test_level_shift_is_one_incident_flagged_on_its_first_day() -> None:
    s = 49  # a Monday; from it weekdays cost 150 and weekends 75 (+50 %)
    costs = weekly(s) + weekly(80 - s, 150.0, 75.0)
    found = detect(series({"svc": costs}), SETTINGS)
    assert found.height == 1  # one incident, not one per day
    row = found.row(0, named=True)
    assert (row["kind"], row["start"], row["detected_on"]) == ("level_shift", day(s), day(s))
    # The 21-day median level holds the old 110 while at most 10 of its days are new: day s + 11 is
    # judged against the new level, so the incident ends on day s + 10 (Thursday of the next week).
    assert row["end"] == day(s + 10)
    # Days s .. s+10: 9 weekdays and 2 weekend days against the level frozen at s (100 / 50):
    # expected 9 × 100 + 2 × 50 = 1000, actual 9 × 150 + 2 × 75 = 1500, impact 500.
    assert (approx(row["expected"]), approx(row["actual"]), approx(row["impact"])) == (1000, 1500, 500)
    # 500 / 11 days = 45 a day, 4.5 × the floor (medium); +50 % (medium)
    assert row["severity"] == "medium"


def test_weekday_pattern_alone_is_not_an_anomaly() -> None:
    rng = np.random.default_rng(3)
    costs = [c * float(np.exp(rng.normal(0, 0.03))) for c in weekly(120, 1000.0, 200.0)]
    scored = score_days(series({"svc": costs}), SETTINGS, keys=["ServiceName"])
    assert scored.filter(pl.col("idx") >= 28)["expected"].null_count() == 0  # judged every day after 4 weeks
    assert not scored["flag"].any()
    assert detect(series({"svc": costs}), SETTINGS).is_empty()


def test_tiny_series_under_the_money_floor_is_not_reported() -> None:
    costs = [2.0] * 70
    costs[50] = 8.0  # ×4, but 6 above expected: under the floor of 10 a day
    assert detect(series({"tiny": costs}), SETTINGS).is_empty()
    low_floor = detect(series({"tiny": costs}), AnomalySettings(min_impact=D(1)))
    assert low_floor.select("kind", "start").rows() == [("spike", day(50))]


def test_new_service_is_new_spend() -> None:
    old = [100.0] * 70
    new = [0.0] * 50 + [200.0] * 20  # nothing for 50 days (≥ 14 observed), then 200 a day
    found = detect(series({"old": old, "new": new}), SETTINGS)
    assert found.select("ServiceName", "kind").rows() == [("new", "new_spend")]
    row = found.row(0, named=True)
    assert (row["start"], row["detected_on"], row["end"]) == (day(50), day(50), None)  # still in its window
    assert (approx(row["expected"]), approx(row["actual"]), approx(row["impact"])) == (0, 4000, 4000)  # 20 × 200
    assert row["severity"] == "critical"  # 200 a day = 20 × the floor (high), relative: new (critical)


def test_monthly_booking_on_the_same_day_is_not_a_spike() -> None:
    n = 110  # 2026-08-03 .. 2026-11-20
    costs = [c + (400.0 if day(i).day == 15 else 0.0) for i, c in enumerate(weekly(n))]
    assert detect(series({"svc": costs}), SETTINGS).is_empty()
    once = weekly(n)
    once[day(0).replace(month=11, day=15).toordinal() - DAY0.toordinal()] += 400.0  # only in November
    found = detect(series({"svc": once}), SETTINGS)
    assert found.select("kind", "start").rows() == [("spike", date(2026, 11, 15))]


def test_truncating_the_input_does_not_change_earlier_decisions() -> None:
    rng = np.random.default_rng(7)
    n = 110
    base = np.array(weekly(n, 500.0, 300.0)) * np.exp(rng.normal(0, 0.05, n))
    base[60] *= 3  # a spike
    base[80:] *= 1.5  # a level shift
    base += np.where([day(i).day == 1 for i in range(n)], 900.0, 0.0)  # a monthly booking
    frame = series({"a": list(base), "b": list(np.array(weekly(n, 40.0, 40.0)) * np.exp(rng.normal(0, 0.2, n)))})
    columns = ["ServiceName", "day", "expected", "band", "residual", "flag", "held", "suppressed", "in_new"]
    full = score_days(frame, SETTINGS, keys=["ServiceName"]).select(columns)
    assert full["flag"].sum() >= 2
    for t in (45, 60, 61, 80, 81, 95):
        cut = frame.filter(pl.col("day") <= day(t))
        part = score_days(cut, SETTINGS, keys=["ServiceName"], first_day=DAY0).select(columns)
        assert_frame_equal(part, full.filter(pl.col("day") <= day(t)))


# ---- drivers, by hand ----


def test_drivers_ranked_by_delta_most_specific_first() -> None:
    start = date(2026, 10, 7)  # a one-day anomaly on a Wednesday
    data: list[dict[str, Any]] = []
    for week in range(5, -1, -1):
        d = start - timedelta(weeks=week)
        spike = week == 0
        data += [
            # r1 (usage A): 10 every Wednesday, 110 on the anomaly day: delta 100
            {"day": d, "ResourceId": "r1", "x_UsageType": "A", "cost": 110.0 if spike else 10.0},
            # r2 (usage A): 20 → 26: delta 6; usage A: 136 − 30 = 106 (r1 explains 100/106 = 94 % ≥ 90 %)
            {"day": d, "ResourceId": "r2", "x_UsageType": "A", "cost": 26.0 if spike else 20.0},
            # r3 (usage B): 5 → 45: delta 40; r4 (usage B): 5 → 25: delta 20; usage B: 60 (r3: 67 % < 90 %)
            {"day": d, "ResourceId": "r3", "x_UsageType": "B", "cost": 45.0 if spike else 5.0},
            {"day": d, "ResourceId": "r4", "x_UsageType": "B", "cost": 25.0 if spike else 5.0},
            # r5 (usage C) is cheaper on the anomaly day: a negative delta is no driver
            {"day": d, "ResourceId": "r5", "x_UsageType": "C", "cost": 1.0 if spike else 9.0},
        ]
    breakdown = pl.DataFrame(data).with_columns(anomaly_id=pl.lit(0, pl.UInt32))
    windows = pl.DataFrame({"anomaly_id": [0], "start": [start], "last_day": [start]}).cast({"anomaly_id": pl.UInt32})
    got = rank_drivers(windows, breakdown, dimensions=["ResourceId", "x_UsageType"], limit=5)["drivers"][0]
    assert [(d["dimension"], d["value"], round(d["delta"], 6)) for d in got] == [
        ("ResourceId", "r1", 100.0),  # 100 ≥ 0.9 × 106: ranks just above its usage type
        ("x_UsageType", "A", 106.0),
        ("x_UsageType", "B", 60.0),
        ("ResourceId", "r3", 40.0),
        ("ResourceId", "r4", 20.0),
    ]


# ---- the warehouse path and the CLI ----

SERVICE = {"ProviderName": "AWS", "ServiceName": "Amazon EC2", "SubAccountId": "444455556666", "RegionId": "us-east-1"}


def _bill_row(d: date, resource: str, usage: str, sku: str, cost: float, **over: Any) -> dict[str, Any]:
    month = d.replace(day=1)
    following = (month + timedelta(days=32)).replace(day=1)
    row = rows(
        1,
        ResourceId=resource,
        x_UsageType=usage,
        SkuId=sku,
        BilledCost=f"{cost:.2f}",
        EffectiveCost=f"{cost:.2f}",
        ChargePeriodStart=f"{d}T00:00:00Z",
        ChargePeriodEnd=f"{d + timedelta(days=1)}T00:00:00Z",
        BillingPeriodStart=f"{month}T00:00:00Z",
        BillingPeriodEnd=f"{following}T00:00:00Z",
    )[0]
    row.update(over)
    return row


def _hand_warehouse(path: Path, tmp_path: Path, *, team: bool = False) -> None:
    """2026-08-01 .. 2026-10-10: web (weekday 60, weekend 30) + db (40) a day; web 300 on 2026-10-07;
    a 500 Tax charge on 2026-10-03 and a 700 monthly Recurring fee on each 1st, which are no usage."""
    by_month: dict[date, list[dict[str, Any]]] = {}
    d = date(2026, 8, 1)
    while d <= date(2026, 10, 10):
        web = 300.0 if d == date(2026, 10, 7) else (30.0 if d.weekday() >= 5 else 60.0)
        bucket = by_month.setdefault(d.replace(day=1), [])
        bucket += [_bill_row(d, "i-web", "BoxUsage", "SKU1", web), _bill_row(d, "vol-db", "EBS:Storage", "SKU2", 40.0)]
        if d.day == 1:
            bucket.append(_bill_row(d, "ri-1", "HeavyUsage", "SKU3", 700.0, ChargeFrequency="Recurring"))
        if d == date(2026, 10, 3):
            bucket.append(_bill_row(d, "", "Tax", "SKU4", 500.0, ChargeCategory="Tax", ResourceId=None))
        d += timedelta(days=1)
    conn = open_warehouse(path)
    try:
        for month, data in by_month.items():
            ingest(conn, FocusFiles([str(write_parquet(tmp_path / f"{month:%Y-%m}.parquet", data))], source="bill"))
        if team:
            run_allocation(conn, AllocationRules(rule_sets=[RuleSet(team=Dimension(tag_keys=["team"]))]))
        series: list[SeriesKind] = ["team"] if team else ["service"]
        run_anomalies(conn, AnomalySettings(series=series), now=datetime(2026, 10, 11, tzinfo=UTC))
    finally:
        conn.close()


def test_warehouse_run_stores_one_spike_with_its_drivers(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    _hand_warehouse(path, tmp_path)
    conn = duckdb.connect(str(path), read_only=True)
    try:
        stored = conn.execute(
            "SELECT fingerprint, provider, account_id, region, CAST(dimensions AS VARCHAR), currency, severity, "
            "CAST(details AS VARCHAR) FROM findings WHERE kind = 'anomaly'"
        ).fetchall()
        statuses = conn.execute("SELECT status FROM analysis_runs").fetchall()
    finally:
        conn.close()
    assert statuses == [("succeeded",)]
    assert len(stored) == 1  # the Tax day and the Recurring fees are not usage: no anomaly
    fp, provider, account, region, dims, currency, severity, details_text = stored[0]
    dims_json = '{"ProviderName":"AWS","ServiceName":"Amazon EC2","SubAccountId":"444455556666","RegionId":"us-east-1"}'
    assert json.loads(dims) == SERVICE
    assert fp == hashlib.sha256(f"service|{dims_json}|spike|2026-10-07".encode()).hexdigest()
    assert fp == fingerprint("service", dims_json, "spike", date(2026, 10, 7))
    assert (provider, account, region, currency) == ("AWS", "444455556666", "us-east-1", "USD")
    assert severity == "high"  # 240 a day = 24 × the floor (high); +240 % (high)
    details = json.loads(details_text)
    # u = cost + 10: weekday 110, weekend 80; weekday factor 1 → expected 100; actual 300 + 40 = 340
    assert (details["kind"], details["start"], details["end"], details["detected_on"]) == (
        "spike",
        "2026-10-07",
        "2026-10-07",
        "2026-10-07",
    )
    assert (approx(details["expected"]), approx(details["actual"]), approx(details["impact"])) == (100, 340, 240)
    # i-web: 300 − median of the 4 previous Wednesdays (60) = 240; its usage type and SKU the same
    assert [(d["dimension"], d["value"], approx(d["delta"])) for d in details["drivers"]] == [
        ("ResourceId", "i-web", 240),
        ("x_UsageType", "BoxUsage", 240),
        ("SkuId", "SKU1", 240),
    ]


def test_team_series_from_the_allocation(tmp_path: Path) -> None:
    """Every row is tagged team=payments; allocated_daily keeps the Tax and Recurring charges."""
    path = tmp_path / "wh.duckdb"
    _hand_warehouse(path, tmp_path, team=True)
    conn = duckdb.connect(str(path), read_only=True)
    try:
        stored = conn.execute(
            "SELECT CAST(dimensions AS VARCHAR), CAST(details AS VARCHAR) FROM findings WHERE kind = 'anomaly' "
            "ORDER BY details->>'start'"
        ).fetchall()
    finally:
        conn.close()
    found = [(json.loads(dims), json.loads(details)) for dims, details in stored]
    assert [(d, x["series"], x["kind"], x["start"]) for d, x in found] == [
        # the 500 Tax on Saturday 2026-10-03 is team spend: 570 against 30 + 40 = 70
        ({"team": "payments"}, "team", "spike", "2026-10-03"),
        ({"team": "payments"}, "team", "spike", "2026-10-07"),
    ]  # the 700 fee of each 1st recurs from the month before: not an anomaly (2026-08-01 is not judged)
    tax, web = found[0][1], found[1][1]
    assert (approx(tax["expected"]), approx(tax["actual"]), approx(tax["impact"])) == (70, 570, 500)
    assert (approx(web["expected"]), approx(web["actual"]), approx(web["impact"])) == (100, 340, 240)
    # team drivers: the one service, account and region explain all 240; most specific first
    assert [(d["dimension"], d["value"], approx(d["delta"])) for d in web["drivers"]] == [
        ("RegionId", "us-east-1", 240),
        ("SubAccountId", "444455556666", 240),
        ("ServiceName", "Amazon EC2", 240),
    ]


def test_rerun_keeps_fingerprint_and_first_seen(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    _hand_warehouse(path, tmp_path)
    conn = open_warehouse(path)
    try:
        before = conn.execute("SELECT fingerprint, first_seen FROM findings WHERE kind = 'anomaly'").fetchall()
        later = datetime(2026, 10, 12, tzinfo=UTC)
        again = run_anomalies(conn, AnomalySettings(series=["service"]), now=later)
        after = conn.execute("SELECT fingerprint, first_seen, last_seen, run_id FROM findings WHERE kind = 'anomaly'")
        rows_after = after.fetchall()
        # A run for September replaces only anomalies starting in September (none): October's stays.
        september = run_anomalies(conn, AnomalySettings(series=["service"]), period="2026-09", now=later)
        kept = conn.execute("SELECT count(*) FROM findings WHERE kind = 'anomaly'").fetchone()
        october = run_anomalies(conn, AnomalySettings(series=["service"]), period="2026-10", now=later)
        replaced = conn.execute("SELECT fingerprint, run_id FROM findings WHERE kind = 'anomaly'").fetchall()
    finally:
        conn.close()
    assert september.anomalies.height == 0 and october.anomalies.height == 1
    assert replaced == [(before[0][0], october.run_id)]
    assert again.anomalies.height == 1
    assert [(r[0], r[1]) for r in rows_after] == before  # same fingerprint, first_seen kept
    assert rows_after[0][2] == later and rows_after[0][3] == again.run_id
    assert kept == (1,)


def test_empty_warehouse_runs_and_finds_nothing(wh: duckdb.DuckDBPyConnection) -> None:
    result = run_anomalies(wh, AnomalySettings(), now=datetime(2026, 10, 11, tzinfo=UTC))
    assert result.anomalies.is_empty()
    assert wh.execute("SELECT count(*) FROM findings").fetchone() == (0,)
    assert wh.execute("SELECT status FROM analysis_runs").fetchall() == [("succeeded",)]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}  # a wide table, so values are not wrapped
    return subprocess.run(
        [sys.executable, "-m", "spendscope.cli", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_cli_json_contract(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    _hand_warehouse(path, tmp_path)
    result = _cli("--warehouse", str(path), "anomalies", "--from", "2026-10-01", "--format", "json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert isinstance(found, list) and len(found) == 1
    a = found[0]
    for key in ("id", "kind", "start", "end", "dimensions", "expected", "actual", "impact", "currency", "severity"):
        assert key in a, key
    assert (a["kind"], a["start"], a["end"], a["currency"]) == ("spike", "2026-10-07", "2026-10-07", "USD")
    assert a["dimensions"] == SERVICE
    assert (approx(a["expected"]), approx(a["actual"]), approx(a["impact"])) == (100, 340, 240)
    assert a["drivers"][0] == {"dimension": "ResourceId", "value": "i-web", "delta": pytest.approx(240)}
    assert len(a["id"]) == 64
    # filters: a window before the anomaly, another kind
    early = _cli("--warehouse", str(path), "anomalies", "--to", "2026-10-06", "--format", "json")
    assert early.returncode == 0 and json.loads(early.stdout) == []
    leaks = _cli("--warehouse", str(path), "anomalies", "--kind", "leak,new_spend", "--format", "json")
    assert leaks.returncode == 0 and json.loads(leaks.stdout) == []
    table = _cli("--warehouse", str(path), "anomalies")
    assert table.returncode == 0 and "i-web" in table.stdout and "spike" in table.stdout
    bad = _cli("--warehouse", str(path), "anomalies", "--kind", "dip")
    assert bad.returncode == 2
