"""Vectorized expansion of a chunk of entries into usage rows: periods, quantities, prices, costs.

Money is exact: quantities and unit prices are integers in micro-units (1e-6), so every cost is
``quantity × price`` as an integer in 1e-12 units, which is exactly what the DECIMAL(38, 12)
columns hold. That makes ``ListUnitPrice × PricingQuantity = ListCost`` hold to the last digit and
lets ground truth totals be exact sums of the written values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spendscope.generator.anomalies import Anomaly
from spendscope.generator.catalogue import DAILY, METERED, STORAGE, VM
from spendscope.generator.entries import TEMPLATES, UNTAGGED_FILLER
from spendscope.generator.shapes import HOURS_PER_MONTH_AVG, Month
from spendscope.generator.world import World

I64 = npt.NDArray[np.int64]
US_PER_HOUR = 3_600_000_000
_BLOCK = np.array([[m.block for m in t.meters] + [1] * (3 - len(t.meters)) for _, t in TEMPLATES], dtype=np.int64)
_NOISE_SIGMA = {METERED: 0.04, DAILY: 0.04, STORAGE: 0.003}
_INT64_SAFE = 9.0e18


@dataclass
class UsageRows:
    """Rows of one chunk; ``attr`` indexes the chunk's entries (0..len(entries)-1)."""

    attr: I64
    start_us: I64
    end_us: I64
    quantity: I64
    """PricingQuantity in micro-units."""
    consumed: I64
    list_cost: I64
    contracted_cost: I64
    billed_cost: I64
    effective_cost: I64
    """Costs in 1e-12 units of the billing currency."""
    covered: npt.NDArray[np.bool_]
    """Per entry of the chunk: all its rows are covered by the provider's commitment."""


def usage_rows(
    world: World,
    month: Month,
    idx: I64,
    demand: npt.NDArray[np.float64],
    anomalies: list[Anomaly],
    rng: np.random.Generator,
) -> UsageRows:
    """Expand entries ``idx`` (one provider) into their rows of ``month``."""
    c = world.entries.cols
    kind = c["kind"][idx].astype(np.int64)
    hourly = (kind == VM) | (kind == METERED)
    s = np.clip(c["start_h"][idx] - month.hour0, 0, month.hours)
    e = np.maximum(np.clip(c["end_h"][idx] - month.hour0, 0, month.hours), s)
    first = np.where(hourly, s, s // 24)
    n = np.where(hourly, e - s, e // 24 - s // 24)
    attr = np.repeat(np.arange(len(idx), dtype=np.int64), n)
    t = np.repeat(first - (np.cumsum(n) - n), n) + np.arange(int(n.sum()), dtype=np.int64)
    is_hourly = hourly[attr]
    schedule = np.where(is_hourly, c["schedule"][idx][attr], 0)
    keep = world.cal.running[schedule, month.hour0 + np.where(is_hourly, t, 0)]
    attr, t, is_hourly = attr[keep], t[keep], is_hourly[keep]
    start_h = np.where(is_hourly, t, 24 * t)
    start_us = month.start_us + start_h * US_PER_HOUR
    end_us = start_us + np.where(is_hourly, US_PER_HOUR, 24 * US_PER_HOUR)
    t_abs = (month.hour0 + start_h).astype(np.float64)

    k = kind[attr]
    ent = idx[attr]
    q = c["base"][ent].astype(np.float64)
    drow = 2 * c["app"][ent].astype(np.int64) + (c["env"][ent] != 0)  # row of shapes.demand
    metered = k == METERED
    q[metered] *= demand[drow[metered], t[metered]]
    daily = k == DAILY
    if daily.any():
        per_day = demand.reshape(demand.shape[0], month.days, 24).mean(axis=2)
        q[daily] *= per_day[drow[daily], t[daily]]
    storage = k == STORAGE
    if storage.any():
        orphan = storage & (c["role"][ent] == UNTAGGED_FILLER)
        grow = storage & ~orphan
        q[grow] *= (1 + c["growth"][ent[grow]]) ** (t_abs[grow] / HOURS_PER_MONTH_AVG)
        for p, gb in world.orphan_gb.items():
            q[orphan & (c["provider"][ent] == p)] *= gb[month.index]
        q[storage] *= 24 / month.hours
    for kd, sigma in _NOISE_SIGMA.items():
        sel = k == kd
        q[sel] *= rng.lognormal(0.0, sigma, int(sel.sum()))
    parts: list[tuple[Anomaly, npt.NDArray[np.bool_], npt.NDArray[np.float64]]] = []
    for a in anomalies:
        if a.kind == "new_spend" or not np.isin(a.entries, idx).any():
            continue
        rows = np.isin(ent, a.entries)
        mult = a.multiplier(t_abs[rows])
        q[rows] *= mult
        parts.append((a, rows, mult))

    quantity = np.maximum(np.rint(q * 1e6), 1).astype(np.int64)
    list_u = c["list_u"][ent]
    if float((quantity.astype(np.float64) * list_u).max(initial=0.0)) >= _INT64_SAFE:
        raise OverflowError("a generated cost exceeds the exact integer range; lower the meter's base")
    covered = c["commit"][ent] >= 0
    list_cost = quantity * list_u
    contracted_cost = quantity * c["contracted_u"][ent]
    effective = np.where(covered, quantity * c["rate_u"][ent], contracted_cost)
    billed = np.where(covered, 0, contracted_cost)
    consumed = quantity * _BLOCK[c["tmpl"][ent].astype(np.int64), c["meter"][ent].astype(np.int64)]
    _record_extra(world, month, parts, anomalies, ent, effective)
    return UsageRows(
        attr, start_us, end_us, quantity, consumed, list_cost, contracted_cost, billed, effective, c["commit"][idx] >= 0
    )


def _record_extra(
    world: World,
    month: Month,
    parts: list[tuple[Anomaly, npt.NDArray[np.bool_], npt.NDArray[np.float64]]],
    anomalies: list[Anomaly],
    ent: I64,
    effective: I64,
) -> None:
    """Add each anomaly's realized extra EffectiveCost in its own month (for daily_impact)."""
    eff = effective.astype(np.float64) / 1e12
    for a, rows, mult in parts:
        if a.month == month.index:
            a.extra += float((eff[rows] * (1 - 1 / mult)).sum())
    for a in anomalies:
        if a.kind == "new_spend" and a.month == month.index:
            a.extra += float(eff[np.isin(ent, a.entries)].sum())
