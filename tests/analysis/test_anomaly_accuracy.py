"""Measured acceptance of the anomaly detector, against two textbook baselines.

The series generator lives here (an independent route, not spendscope.generator): per seed, 120 days
of 40 service × account × region series, each the sum of 3-6 resources (ResourceId, x_UsageType;
usage types are sometimes shared by two resources), with weekly seasonality, a mild trend and
multiplicative noise of 3-10 % per resource and day; a quarter of the series carry a monthly recurring
charge on a fixed day of the month, and 6 tiny series (0.5-3 a day, 30-60 % noise, capped at 8) stay
below the money floor. Into 24 of the regular series ONE event each is injected, into ONE resource (the
driver), after 35 clean days and at least 25 days before the end: 8 spikes (1-2 days, +50 % to +300 % of the series'
expected day), 8 level shifts (+30 % to +100 %, persisting), 6 leaks (linear growth over 14-28 days to
+50 % to +150 %, then fixed); 2 new services start from nothing. Every injected day adds at least 15
(the floor is 10 a day).

The detector was tuned on seeds 0-19 with a scratch script outside the repository; the seeds asserted
here (9101-9105) were not run while tuning.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import polars as pl

from spendscope.analysis.anomalies import run_anomalies
from spendscope.analysis.anomaly_detect import AnomalySettings, detect
from spendscope.analysis.anomaly_drivers import attach_drivers
from spendscope.collectors.focus import FocusFiles
from spendscope.generator import generate as generate_bill
from spendscope.pipeline import ingest

SEEDS = (9101, 9102, 9103, 9104, 9105)
KINDS = ("spike", "level_shift", "leak", "new_spend")
DAY0 = date(2026, 1, 5)
N_DAYS = 120
FLOOR = Decimal(10)
SETTINGS = AnomalySettings(min_impact=FLOOR)
KEYS = ["ServiceName", "SubAccountId", "RegionId"]
SERVICES = ["Compute", "Storage", "Database", "Network", "Logging", "Queue", "Cache", "Search"]
USAGE = ["BoxUsage", "TimedStorage", "Requests", "DataTransfer-Out", "IOPS", "Snapshot"]


@dataclass(frozen=True)
class Event:
    series: tuple[str, str, str]
    kind: str
    start: date
    driver: str | None


def generate(seed: int) -> tuple[pl.DataFrame, list[Event]]:
    """Resource-level daily costs (KEYS, currency, day, ResourceId, x_UsageType, cost) and the events."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_DAYS)
    weekday = np.array([(DAY0 + timedelta(days=int(d))).weekday() for d in t])
    dom = np.array([(DAY0 + timedelta(days=int(d))).day for d in t])
    kinds = ["spike"] * 8 + ["level_shift"] * 8 + ["leak"] * 6 + [None] * 10
    rng.shuffle(kinds)
    parts: list[pl.DataFrame] = []
    events: list[Event] = []

    def emit(key: tuple[str, str, str], rid: str, usage: str, cost: npt.NDArray[np.float64]) -> None:
        parts.append(
            pl.DataFrame(
                {
                    "ServiceName": key[0],
                    "SubAccountId": key[1],
                    "RegionId": key[2],
                    "currency": "USD",
                    "day": [DAY0 + timedelta(days=int(d)) for d in t],
                    "ResourceId": rid,
                    "x_UsageType": usage,
                    "cost": np.round(cost, 6),
                }
            )
        )

    def shape(base: float) -> npt.NDArray[np.float64]:
        weekend = rng.uniform(0.5, 1.0)
        week = np.where(weekday >= 5, weekend, 1.0) * rng.uniform(0.95, 1.05, 7)[weekday]
        return np.asarray(base * week * (1 + rng.uniform(-0.001, 0.003)) ** t, dtype=np.float64)

    for i, kind in enumerate(kinds):
        key = (SERVICES[i % len(SERVICES)], f"acct-{seed}-{i // len(SERVICES)}", f"region-{i % 3}")
        expected = shape(float(np.exp(rng.uniform(np.log(60), np.log(4000)))))
        n_res = int(rng.integers(3, 7))
        shares = rng.dirichlet(np.ones(n_res) * 2)
        usages = [USAGE[j % len(USAGE)] for j in range(n_res)]
        if rng.random() < 0.5:  # two resources share a usage type
            usages[1] = usages[0]
        driver = int(rng.integers(n_res))
        extra = np.zeros(N_DAYS)
        if kind is not None:
            start = int(rng.integers(36, N_DAYS - 25))
            if kind == "spike":
                days = int(rng.integers(1, 3))
                extra[start : start + days] = rng.uniform(0.5, 3.0)
            elif kind == "level_shift":
                extra[start:] = rng.uniform(0.3, 1.0)
            else:
                length, peak = min(int(rng.integers(14, 29)), N_DAYS - start), rng.uniform(0.5, 1.5)
                extra[start : start + length] = peak * np.arange(1, length + 1) / length
            extra = np.maximum(extra * expected, np.where(extra > 0, 15.0, 0.0))
            events.append(Event(key, kind, DAY0 + timedelta(days=start), f"res-{seed}-{i}-{driver}"))
        for j in range(n_res):
            noise = np.exp(rng.normal(0, rng.uniform(0.03, 0.10), N_DAYS))
            cost = (expected * shares[j] + (extra if j == driver else 0.0)) * noise
            emit(key, f"res-{seed}-{i}-{j}", usages[j], cost)
        if rng.random() < 0.25:  # a monthly subscription, booked on one day of the month
            day = int(rng.choice([1, 1, 15, int(rng.integers(2, 29))]))
            emit(key, f"sub-{seed}-{i}", "Subscription", np.where(dom == day, expected.mean() * rng.uniform(1, 5), 0))
    for i in range(6):  # tiny noisy services, some days without any cost
        key = ("Tiny", f"acct-{seed}-tiny", f"region-{i}")
        cost = shape(rng.uniform(0.5, 3)) * np.exp(rng.normal(0, rng.uniform(0.3, 0.6), N_DAYS))
        cost = np.minimum(cost, 0.8 * float(FLOOR))  # they never reach the money floor
        emit(key, f"tiny-{seed}-{i}", "Requests", np.where(rng.random(N_DAYS) < 0.1, 0, cost))
    for i in range(2):  # new services
        key = ("NewService", f"acct-{seed}-new", f"region-{i}")
        start = int(rng.integers(40, N_DAYS - 10))
        cost = shape(float(rng.uniform(30, 500))) * np.exp(rng.normal(0, 0.05, N_DAYS))
        emit(key, f"new-{seed}-{i}", "BoxUsage", np.where(t >= start, cost, 0))
        events.append(Event(key, "new_spend", DAY0 + timedelta(days=start), None))
    return pl.concat(parts), events


# ---- the two baselines: raw daily cost per series; consecutive flagged days form one incident ----
# Made comparable with the detector: increases only (every injected event is an increase, so a drop could
# only be a false positive), the same money floor on the mean excess per day, and the same kinds by
# duration (at most 3 days: spike, else level_shift; they have no notion of a leak or of new spend).


def _baseline(costs: pl.DataFrame, method: str) -> pl.DataFrame:
    x = pl.col("cost")
    past = x.shift(1)
    if method == "zscore14":
        center = past.rolling_mean(14, min_samples=14).over(KEYS)
        scale = past.rolling_std(14, min_samples=14).over(KEYS)
    else:  # median and MAD of exactly the previous 28 days
        window = pl.concat_list([x.shift(k).over(KEYS) for k in range(1, 29)])
        center = window.list.median()
        scale = 1.4826 * (window - center).list.eval(pl.element().abs()).list.median()
    flagged = (
        costs.sort(*KEYS, "day")
        .with_columns(center=center, scale=scale)
        .with_columns(flag=((x - pl.col("center")) > 3 * pl.col("scale")).fill_null(False))
        .filter("flag")
        .with_columns(gap=(pl.col("day").diff().dt.total_days().over(KEYS) != 1).fill_null(True))
        .with_columns(inc=pl.col("gap").cum_sum().over(KEYS))
    )
    return (
        flagged.group_by(*KEYS, "inc")
        .agg(
            start=pl.col("day").min(),
            days=pl.len(),
            per_day=(x - pl.col("center")).mean(),
        )
        .filter(pl.col("per_day") >= float(FLOOR))  # the same money floor as the detector
        .with_columns(
            kind=pl.when(pl.col("days") <= 3).then(pl.lit("spike")).otherwise(pl.lit("level_shift")),
            detected_on=pl.col("start"),
            drivers=pl.lit(None),
        )
    )


# ---- matching ----


def match(found: pl.DataFrame, events: list[Event], *, by_kind: bool) -> list[tuple[Event, dict[str, Any]]]:
    """Pairs (event, detection): same series, detected start within a day of the injected start."""
    pairs = []
    used: set[int] = set()
    rows = list(enumerate(found.iter_rows(named=True)))
    for ev in sorted(events, key=lambda e: (e.series, e.start)):
        for i, row in rows:
            if i in used or tuple(row[k] for k in KEYS) != ev.series:
                continue
            if by_kind and row["kind"] != ev.kind:
                continue
            if abs((row["start"] - ev.start).days) <= 1:
                used.add(i)
                pairs.append((ev, row))
                break
    return pairs


def scores(found: pl.DataFrame, events: list[Event], kinds: list[str]) -> tuple[float, float, int, int, int]:
    """(precision, recall, matched, detections, events) over ``kinds``; kind must match when one kind."""
    found = found.filter(pl.col("kind").is_in(kinds))
    evs = [e for e in events if e.kind in kinds]
    pairs = match(found, evs, by_kind=len(kinds) == 1)
    p = len(pairs) / found.height if found.height else 1.0
    r = len(pairs) / len(evs) if evs else 1.0
    return p, r, len(pairs), found.height, len(evs)


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def run_detector(resources: pl.DataFrame) -> pl.DataFrame:
    series = resources.group_by(*KEYS, "currency", "day").agg(pl.col("cost").sum())
    found = detect(series, SETTINGS, keys=KEYS)
    return attach_drivers(found, resources, keys=KEYS, dimensions=["ResourceId", "x_UsageType"])


def test_detector_beats_both_baselines_on_unseen_seeds() -> None:
    began = time.perf_counter()
    results: dict[str, list[pl.DataFrame]] = {"detector": [], "zscore14": [], "median28_mad": []}
    all_events: list[Event] = []
    for seed in SEEDS:
        resources, events = generate(seed)
        tag = pl.lit(seed)
        all_events += [Event((f"{seed}|{e.series[0]}", *e.series[1:]), e.kind, e.start, e.driver) for e in events]
        series = resources.group_by(*KEYS, "currency", "day").agg(pl.col("cost").sum())
        for name, frame in (
            ("detector", run_detector(resources)),
            ("zscore14", _baseline(series, "zscore14")),
            ("median28_mad", _baseline(series, "median28")),
        ):
            results[name].append(
                frame.with_columns(ServiceName=pl.format("{}|{}", tag, pl.col("ServiceName"))).select(
                    *KEYS, "kind", "start", "detected_on", "drivers"
                )
            )
    found = {name: pl.concat(frames, how="vertical_relaxed") for name, frames in results.items()}

    table: dict[str, dict[str, tuple[float, float, int, int, int]]] = {}
    groups = {
        "spike": ["spike"],
        "level_shift": ["level_shift"],
        "leak": ["leak"],
        "new_spend": ["new_spend"],
        "spike+level_shift (any kind)": ["spike", "level_shift"],
        "all kinds (any kind)": ["spike", "level_shift", "leak", "new_spend"],
    }
    print(f"\nseeds {SEEDS}: {len(all_events)} injected events")
    print(f"{'method':<14}{'kinds':<30}{'precision':>10}{'recall':>8}{'F1':>7}  matched/detections/events")
    for name, frame in found.items():
        table[name] = {}
        for label, kinds in groups.items():
            p, r, m, d, e = table[name][label] = scores(frame, all_events, kinds)
            precision = f"{p:.3f}" if d else "n/a"  # no detection of that kind
            print(f"{name:<14}{label:<30}{precision:>10}{r:>8.3f}{f1(p, r) if d else 0.0:>7.3f}  {m}/{d}/{e}")

    for kind in ("spike", "level_shift"):
        p, r, *_ = table["detector"][kind]
        assert p >= 0.9 and r >= 0.9, (kind, p, r)
    # Timeliness and drivers over the matched detections (kind must match).
    pairs = match(found["detector"], all_events, by_kind=True)
    delay = {k: [(row["detected_on"] - ev.start).days for ev, row in pairs if ev.kind == k] for k in KINDS}
    early = [d <= 1 for k in ("spike", "level_shift", "new_spend") for d in delay[k]]
    top = [(ev, row["drivers"][0] if row["drivers"] else {}) for ev, row in pairs if ev.driver]
    driven = [(d.get("dimension"), d.get("value")) == ("ResourceId", ev.driver) for ev, d in top]
    print(f"detected on the first or second day: {sum(early)}/{len(early)} (spikes, level shifts, new spend)")
    if delay["leak"]:
        print(f"leaks: detected {np.median(delay['leak']):.0f} days after the injected start (median)")
    print(f"injected resource ranked first: {sum(driven)}/{len(driven)} (spikes, level shifts, leaks)")
    assert sum(early) >= 0.9 * len(early)
    assert sum(driven) >= 0.9 * len(driven)
    ours = f1(*table["detector"]["spike"][:2]) + f1(*table["detector"]["level_shift"][:2])
    both = "spike+level_shift (any kind)"
    for baseline in ("zscore14", "median28_mad"):
        theirs = f1(*table[baseline]["spike"][:2]) + f1(*table[baseline]["level_shift"][:2])
        assert ours > theirs, (baseline, ours, theirs)
        assert f1(*table["detector"][both][:2]) > f1(*table[baseline][both][:2]), baseline
    elapsed = time.perf_counter() - began
    print(f"elapsed {elapsed:.1f} s")
    assert elapsed < 60


# ---- spendscope's own generated bill: three months with one anomaly of each kind per month ----


def test_generated_bill_anomalies_found_with_their_driver(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Spikes, level shifts and new services injected after 35 days of history are found on the right
    series, within a day of their start, with the injected driver first (a level shift's usage type may
    follow the one resource carrying it). Leaks and first-month anomalies are reported, not asserted."""
    gen = generate_bill(tmp_path / "gen", rows=60_000, seed=7, month="2026-08", months=3)
    for f in gen.files:
        ingest(wh, FocusFiles([str(f)], source=str(f)))
    settings = AnomalySettings(min_impact=Decimal(1), series=["service"])  # injected impacts: 1-80 a day
    found = run_anomalies(wh, settings, now=datetime(2026, 11, 1, tzinfo=UTC)).anomalies
    truth = json.loads(gen.ground_truth.read_text())["anomalies"]
    judged_from = date(2026, 8, 1) + timedelta(days=35)
    kinds = dict(found.group_by("kind").len().iter_rows())
    print(f"\n{found.height} anomalies found {kinds} (other series: resources and services starting); injected:")
    for a in truth:
        d = a["dimensions"]
        same = found.filter(
            (pl.col("provider") == d["ProviderName"])
            & (pl.col("account_id") == d["SubAccountId"])
            & (pl.col("dimensions").str.json_path_match("$.ServiceName") == d["ServiceName"])
            & (pl.col("region").eq_missing(d["RegionId"]))
        )
        start = date.fromisoformat(a["start"])
        hits = same.filter((pl.col("start") - start).dt.total_days().abs() <= 1)
        got = [(r["kind"], r["start"].isoformat(), [x["value"] for x in r["drivers"][:2]]) for r in hits.to_dicts()]
        print(f"  {a['kind']:<12}{a['start']}  {d['ServiceName']:<22}driver {a['driver']['value'][-40:]:<41}-> {got}")
        if a["kind"] == "leak" or start < judged_from:
            continue
        assert hits.filter(pl.col("kind") == a["kind"]).height == 1, (a, got)
        row = hits.filter(pl.col("kind") == a["kind"]).row(0, named=True)
        drivers = [(x["dimension"], x["value"]) for x in row["drivers"]]
        want = (a["driver"]["dimension"], a["driver"]["value"])
        if a["kind"] == "spike":
            assert drivers[0] == want, (a, drivers)
        elif a["kind"] == "level_shift":
            assert want in drivers[:2] and drivers[0][0] in ("ResourceId", want[0]), (a, drivers)
        else:  # new_spend: the whole series is new; its driver is the series itself
            assert want == ("ServiceName", d["ServiceName"])
