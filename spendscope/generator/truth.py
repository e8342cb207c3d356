"""ground_truth.json: the generator's own record of what it wrote and what it injected.

Totals are exact sums of the very integer arrays that became the Parquet decimals (so a reader
can reconcile to the last digit, per BillingCurrency); shares and anomaly impacts are floats.
Tag states are classified from the written Tags strings, not from the world, so the record
describes the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from spendscope.generator.anomalies import Anomaly
from spendscope.generator.catalogue import APPS
from spendscope.generator.entries import PROVIDERS, TAG_STATE_NAMES
from spendscope.generator.focus import Lines
from spendscope.generator.names import money_text
from spendscope.generator.special import Pairs
from spendscope.generator.world import World

_SPLIT = 32
_LOW = (1 << _SPLIT) - 1


def exact_sum(values: npt.NDArray[np.int64]) -> int:
    """Sum of int64 values as a Python int without overflow (high and low 32 bits summed apart)."""
    return int((values >> _SPLIT).sum()) * (1 << _SPLIT) + int((values & _LOW).sum())


def group_sums(values: npt.NDArray[np.int64], groups: npt.NDArray[np.int64], n: int) -> list[int]:
    """Exact per-group sums (each half sums below 2**53, so float bincount is exact)."""
    hi = np.bincount(groups, weights=(values >> _SPLIT).astype(np.float64), minlength=n)
    lo = np.bincount(groups, weights=(values & _LOW).astype(np.float64), minlength=n)
    return [int(h) * (1 << _SPLIT) + int(x) for h, x in zip(hi.tolist(), lo.tolist(), strict=True)]


def tag_state(tags: str | None) -> int:
    """Index into TAG_STATE_NAMES for a written Tags value."""
    if tags is None or tags == "{}":
        return 1
    if '"Team"' in tags:
        return 2
    if '"owner"' in tags:
        return 3
    if '"env":"Prod"' in tags or '"env":"Staging"' in tags or '"env":"Dev"' in tags:
        return 4
    return 0


@dataclass
class PeriodStats:
    currency: str
    rows: int = 0
    billed: int = 0
    effective: int = 0
    usage_by_state: list[int] = field(default_factory=lambda: [0] * len(TAG_STATE_NAMES))
    pairs: Pairs = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def add(self, lines: Lines) -> None:
        n = len(lines.attrs)
        if not len(lines):
            return
        self.rows += len(lines)
        self.billed += exact_sum(lines.billed)
        self.effective += exact_sum(lines.effective)
        sums = [
            group_sums(v, lines.attr, n) for v in (lines.billed, lines.effective, lines.list_cost, lines.contracted)
        ]
        for k, attr in enumerate(lines.attrs):
            key = (str(attr["SubAccountId"]), str(attr["ServiceName"]))
            totals = self.pairs.setdefault(key, [0, 0, 0, 0])
            for i in range(4):
                totals[i] += sums[i][k]
            if attr["ChargeCategory"] == "Usage":
                self.usage_by_state[tag_state(attr["Tags"])] += sums[1][k]


class Truth:
    def __init__(self, world: World, rows_requested: int, first_month: str) -> None:
        self.world = world
        self.rows_requested = rows_requested
        self.first_month = first_month
        self.stats: dict[tuple[int, int], PeriodStats] = {}
        self.commitments: list[dict[str, Any]] = []

    def period(self, p: int, month: int) -> PeriodStats:
        return self.stats.setdefault((p, month), PeriodStats(PROVIDERS[p].currency))

    def document(self, out_dir: Path, anomalies: list[Anomaly], transactions: list[Path]) -> dict[str, Any]:
        cal = self.world.cal
        providers: dict[str, dict[str, Any]] = {}
        overall: dict[str, list[int]] = {}
        for (p, mi), st in sorted(self.stats.items()):
            usage = sum(st.usage_by_state)
            providers.setdefault(PROVIDERS[p].key, {})[cal.months[mi].period] = {
                "rows": st.rows,
                "files": [f.relative_to(out_dir).as_posix() for f in st.files],
                "totals": {
                    st.currency: {
                        "BilledCost": money_text(st.billed, 12),
                        "EffectiveCost": money_text(st.effective, 12),
                    }
                },
                "usage_effective_cost": money_text(usage, 12),
                "untagged_share": st.usage_by_state[1] / usage if usage else 0.0,
                "tag_hygiene": {
                    name: (v / usage if usage else 0.0)
                    for name, v in zip(TAG_STATE_NAMES, st.usage_by_state, strict=True)
                },
            }
            acc = overall.setdefault(st.currency, [0, 0])
            acc[0] += st.billed
            acc[1] += st.effective
        return {
            "generator": "spendscope.generator",
            "focus_version": "1.2",
            "seed": self.world.seed,
            "months": len(cal.months),
            "first_month": self.first_month,
            "periods": [m.period for m in cal.months],
            "rows_requested": self.rows_requested,
            "rows": sum(st.rows for st in self.stats.values()),
            "totals": {
                cur: {"BilledCost": money_text(b, 12), "EffectiveCost": money_text(e, 12)}
                for cur, (b, e) in sorted(overall.items())
            },
            "providers": providers,
            "untagged_definition": "share of EffectiveCost of ChargeCategory 'Usage' rows whose Tags is null or {}",
            "commitments": self.commitments,
            "anomalies": [anomaly_record(a, self.world) for a in anomalies],
            "transactions": {
                "files": [t.relative_to(out_dir).as_posix() for t in transactions],
                "services": {a.name: a.team for a in APPS},
            },
        }

    def write(self, out_dir: Path, anomalies: list[Anomaly], transactions: list[Path]) -> Path:
        path = out_dir / "ground_truth.json"
        path.write_text(json.dumps(self.document(out_dir, anomalies, transactions), indent=2) + "\n")
        return path


def _day(world: World, hour: int) -> str:
    start_us = world.cal.months[0].start_us + hour * 3_600_000_000
    return datetime.fromtimestamp(start_us / 1e6, tz=UTC).strftime("%Y-%m-%d")


def anomaly_record(a: Anomaly, world: World) -> dict[str, Any]:
    """One anomaly as ground truth: dates are UTC days, ``end`` is the last affected day (inclusive).

    ``daily_impact`` is the realized extra EffectiveCost per anomaly day inside its own billing period
    (for new_spend: the new service's whole cost). ``factor`` is the expected multiplier of the
    dimensions' cost (spike, level_shift), ``driver_factor`` that of the driver's usage, and
    ``growth_per_day`` the leak's added multiple of its base usage per day.
    """
    shaped = a.kind in ("spike", "level_shift")
    end = None if a.end_h is None or a.end_h > world.cal.total_hours else _day(world, a.end_h - 1)
    return {
        "kind": a.kind,
        "period": world.cal.months[a.month].period,
        "start": _day(world, a.start_h),
        "end": end,
        "dimensions": a.dimensions,
        "driver": a.driver,
        "daily_impact": round(a.extra / a.days, 6) if a.days else 0.0,
        "currency": PROVIDERS[a.provider].currency,
        "factor": round(a.group_factor, 4) if shaped else None,
        "driver_factor": round(a.factor, 4) if shaped else None,
        "growth_per_day": round(a.factor, 6) if a.kind == "leak" else None,
    }
