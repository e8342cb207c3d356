"""Injected anomalies: what the analysis is expected to find, recorded in ground_truth.json.

Each month gets one of each kind, spread over the providers (each gets at least one unless a tiny
bill leaves a provider without a suitable resource):

- ``spike``: for one or two days one resource's usage jumps so that its service/account/region
  costs ×4–6 (a runaway job, a retry storm);
- ``leak``: one resource whose usage grows linearly from a start day until it is fixed 20–45 days
  later (a bucket without a lifecycle rule, a chatty NAT path), possibly into the next month;
- ``level_shift``: one usage type of a service/account/region steps up so that the whole
  service/account/region rises 35–60 % and stays (a new feature, more traffic, a new dataset);
- ``new_spend``: a service the company never used starts mid-month (and keeps running).

Anomalies touch metered usage and stored capacity (never VM hours, which cannot exceed one hour
per hour), and only tagged resources running all month in a service/account/region where nothing
starts or stops that month, so the driver is unambiguous and the change shows at group level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spendscope.generator.catalogue import DAILY, METERED, STORAGE
from spendscope.generator.entries import (
    CORE,
    FILLER,
    NEW_SPEND,
    PROVIDERS,
    TAGGED,
    TEMPLATE_INDEX,
    TEMPLATES,
    UNTAGGED_FILLER,
    expected_cost,
)
from spendscope.generator.names import resource_names, usage_type
from spendscope.generator.shapes import Calendar
from spendscope.generator.world import NewService, World

KINDS = ("spike", "leak", "level_shift", "new_spend")
_HAS_RESOURCE = np.array([t.resource_type is not None for _, t in TEMPLATES])
_REGIONAL = np.array([t.regional for _, t in TEMPLATES])
_USAGE_KEYS = sorted({(m.service, m.usage_type) for _, t in TEMPLATES for m in t.meters})
_USAGE_ID = {k: i for i, k in enumerate(_USAGE_KEYS)}
_SERVICE_IDS = {s: i for i, s in enumerate(sorted({k[0] for k in _USAGE_KEYS}))}
_METER_USAGE = np.array(
    [[_USAGE_ID[(m.service, m.usage_type)] for m in t.meters] + [0] * (3 - len(t.meters)) for _, t in TEMPLATES]
)
_METER_SERVICE = np.array(
    [[_SERVICE_IDS[m.service] for m in t.meters] + [0] * (3 - len(t.meters)) for _, t in TEMPLATES]
)


def sar_index(world: World) -> npt.NDArray[np.int64]:
    """Per entry: index of its (ServiceName, SubAccountId, RegionId) group."""
    c = world.entries.cols
    tm, mi = c["tmpl"].astype(np.int64), c["meter"].astype(np.int64)
    region = np.where(_REGIONAL[tm], c["region"].astype(np.int64), 99)  # global services: RegionId null
    key = ((_METER_SERVICE[tm, mi] * 1000 + c["account"].astype(np.int64)) * 100 + region) * 4 + c["provider"]
    return np.unique(key, return_inverse=True)[1].astype(np.int64)


@dataclass
class Anomaly:
    kind: str
    month: int
    provider: int
    start_h: int
    end_h: int | None
    """Exclusive end (range hours); None while it lasts to the end of the generated range."""
    factor: float
    """Usage multiplier of the driver (spike, level_shift); leak: added multiple of the base per day."""
    entries: npt.NDArray[np.int64]
    dimensions: dict[str, str | None] = field(default_factory=dict)
    driver: dict[str, str | None] = field(default_factory=dict)
    group_factor: float = 1.0
    """Expected multiplier of the whole service/account/region (spike, level_shift)."""
    days: float = 0.0
    """Days of the anomaly inside its own month (divides the realized extra into daily_impact)."""
    extra: float = 0.0
    """Realized extra EffectiveCost in its own month, accumulated while rows are written."""

    def multiplier(self, t_h: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Usage multiplier at range hours ``t_h`` (1 outside the anomaly)."""
        end = np.inf if self.end_h is None else self.end_h
        inside = (t_h >= self.start_h) & (t_h < end)
        if self.kind == "leak":
            return np.where(inside, 1 + self.factor * (t_h - self.start_h) / 24, 1.0)
        if self.kind in ("spike", "level_shift"):
            return np.where(inside, self.factor, 1.0)
        return np.ones_like(t_h)


def _providers(seed: int, month: int) -> list[int]:
    rng = np.random.default_rng([seed, 31, month])
    return [int(x) for x in rng.permutation([0, 1, 2, int(rng.integers(3))])]


def plan_new_spend(seed: int, cal: Calendar) -> list[NewService]:
    """Each month's new service, before sizing: a (service, account, region) never billed before.

    Services rotate through the provider's pool; once a pool is used up, a known new service
    starts in another account, then another region. Falls back to another provider if one has no
    combination left (long ranges).
    """
    out: list[NewService] = []
    counts = [0, 0, 0]
    taken: set[tuple[int, int, int, int]] = set()
    for m in cal.months:
        day = int(np.random.default_rng([seed, 41, m.index]).integers(8, m.days - 7))
        first = _providers(seed, m.index)[3]
        for p in [first] + [q for q in range(len(PROVIDERS)) if q != first]:
            combo = _new_combo(p, counts[p], taken)
            if combo is not None:
                counts[p] += 1
                taken.add((p, *combo))
                out.append(NewService(m.index, p, combo[0], combo[1], combo[2], m.hour0 + 24 * day))
                break
    return out


def _new_combo(p: int, n: int, taken: set[tuple[int, int, int, int]]) -> tuple[int, int, int] | None:
    prov = PROVIDERS[p]
    pool = prov.new_services
    for k in range(len(pool)):
        template = pool[(n + k) % len(pool)]
        fits = [
            i
            for i, a in enumerate(prov.accounts)
            if a.weight >= 1 and (not template.teams or set(template.teams) & set(a.teams))
        ]
        others = [i for i, a in enumerate(prov.accounts) if a.weight >= 1 and i not in fits]
        ordered = (
            [i for i in fits if prov.accounts[i].env == "prod"]
            + [i for i in fits if prov.accounts[i].env != "prod"]
            + others
        )
        for region in range(len(prov.regions)):
            for account in ordered:
                tmpl = TEMPLATE_INDEX[(p, template.key)]
                if (p, tmpl, account, region) not in taken:
                    return tmpl, account, region
    return None


@dataclass
class _Month:
    """What target selection needs about one month: expected costs and who is still free."""

    index: int
    cost: npt.NDArray[np.float64]
    group_cost: npt.NDArray[np.float64]
    """Expected cost of each entry's service/account/region group."""
    resource_share: npt.NDArray[np.float64]
    """Each entry's share of its resource's expected cost."""
    free: npt.NDArray[np.bool_]
    """Tagged, resource-bearing, running all month, in a group where no resource starts or ends this
    month and no other anomaly is busy."""


def plan(world: World, new_spend: list[NewService]) -> list[Anomaly]:
    """Pick each month's anomaly targets from the sized world and record their dimensions.

    A service/account/region group hosts one anomaly at a time: it is busy until a spike or leak
    ends, or until the end of the month of a level shift or new service (after which the new level
    is the baseline), so one anomaly never hides or inflates another. A kind falls back to another
    provider when its assigned provider has no suitable resource (tiny bills).
    """
    cal, c = world.cal, world.entries.cols
    sar = sar_index(world)
    busy_until = np.zeros(int(sar.max()) + 1, dtype=np.int64)
    shifted = np.zeros(len(world.entries), dtype=bool)  # a usage stream shifts level at most once
    resource = c["resource"].astype(np.int64)
    out: list[Anomaly] = []
    for m in cal.months:
        rng = np.random.default_rng([world.seed, 51, m.index])
        cost = expected_cost(cal, world.entries, m.index)
        full = (c["start_h"] <= m.hour0) & (c["end_h"] >= m.hour0 + m.hours)
        changing = (c["start_h"] < m.hour0 + m.hours) & (c["end_h"] > m.hour0) & ~full
        changing |= c["role"] == UNTAGGED_FILLER  # orphans are resized later (calibrate.py)
        stable = np.bincount(sar, weights=changing, minlength=len(busy_until))[sar] == 0  # no resource comes or goes
        base = full & stable & (c["tag_state"] == TAGGED) & np.isin(c["role"], (FILLER, CORE)) & (c["commit"] < 0)
        base &= _HAS_RESOURCE[c["tmpl"]]
        group_cost = np.bincount(sar, weights=cost).astype(np.float64)[sar]
        res_share = cost / np.maximum(np.bincount(resource, weights=cost).astype(np.float64)[resource], 1e-12)
        assigned = _providers(world.seed, m.index)
        for kind, first in zip(KINDS, assigned, strict=True):
            for p in [first] + [q for q in range(len(PROVIDERS)) if q != first]:
                free = base & (busy_until[sar] <= m.hour0) & (c["provider"] == p)
                mon = _Month(m.index, cost, group_cost, res_share, free)
                daily = max(float(cost[c["provider"] == p].sum()) / m.days, 1e-9)
                if kind == "level_shift":
                    mon.free = mon.free & ~shifted
                a = _pick(world, kind, p, mon, new_spend, daily, sar, rng)
                if a is not None:
                    shifted[a.entries] |= kind == "level_shift"
                    month_end = m.hour0 + m.hours
                    end = a.end_h if a.kind in ("spike", "leak") else month_end
                    groups = sar[a.entries]
                    busy_until[groups] = np.maximum(busy_until[groups], cal.total_hours if end is None else end)
                    out.append(a)
                    break
    return out


def _pick(
    world: World,
    kind: str,
    p: int,
    mon: _Month,
    new_spend: list[NewService],
    daily: float,
    sar: npt.NDArray[np.int64],
    rng: np.random.Generator,
) -> Anomaly | None:
    c = world.entries.cols
    days = world.cal.months[mon.index].days
    if kind == "new_spend":
        return _new_spend(world, mon.index, p, new_spend, daily, rng)
    if kind == "level_shift":
        return _level_shift(world, mon, p, sar, daily, rng)
    if kind == "spike":  # the driver must be a visible part of its group (×4–6 at group level)
        cand = np.flatnonzero(mon.free & np.isin(c["kind"], (METERED, DAILY)))
        weight = mon.cost[cand] / np.maximum(mon.group_cost[cand], 1e-12)
        window, minimum = (0.005, 0.12), 0.08
    else:  # a leak grows one resource: its meter must carry most of the resource's cost
        cand = np.flatnonzero(mon.free & np.isin(c["kind"], (STORAGE, METERED)) & (mon.resource_share >= 0.75))
        weight = mon.resource_share[cand]
        window, minimum = (0.003, 0.08), 0.75
    share = mon.cost[cand] / days / daily
    keep = weight >= minimum
    cand, share, weight = cand[keep], share[keep], weight[keep]
    if not len(cand):
        return None
    pool = cand[(share >= window[0]) & (share <= window[1]) & (weight >= max(minimum, 0.4))]
    e = int(rng.choice(pool)) if len(pool) else int(cand[np.argmax(weight)])
    in_group = float(mon.cost[e] / max(mon.group_cost[e], 1e-12))
    return _single(world, kind, mon.index, p, e, in_group, rng)


def _dims(world: World, e: int) -> dict[str, str | None]:
    c = world.entries.cols
    p = int(c["provider"][e])
    prov = PROVIDERS[p]
    template = TEMPLATES[int(c["tmpl"][e])][1]
    return {
        "ProviderName": prov.provider_name,
        "ServiceName": template.meters[int(c["meter"][e])].service,
        "SubAccountId": prov.accounts[int(c["account"][e])].id,
        "RegionId": prov.regions[int(c["region"][e])].id if template.regional else None,
    }


def _single(world: World, kind: str, month: int, p: int, e: int, in_group: float, rng: np.random.Generator) -> Anomaly:
    m = world.cal.months[month]
    month_end = m.hour0 + m.hours
    if kind == "spike":  # incidents start on a working day (Monday-Thursday, so two days stay in the week)
        day, dur = _weekday(world, m.hour0, rng, 4, m.days - 4, last=3), int(rng.integers(1, 3))
        start = m.hour0 + 24 * day
        group = float(rng.uniform(4.0, 6.0))
        a = Anomaly(kind, month, p, start, start + 24 * dur, 1 + (group - 1) / in_group, np.array([e]))
        a.group_factor = 1 + (a.factor - 1) * in_group
        a.days = float(dur)
    else:
        day, length = int(rng.integers(3, m.days - 10)), int(rng.integers(20, 46))
        start = m.hour0 + 24 * day
        end = start + 24 * length
        a = Anomaly(
            kind,
            month,
            p,
            start,
            end if end < world.cal.total_hours else None,
            float(rng.uniform(2.0, 4.0)) / length,
            np.array([e]),
        )
        a.days = (min(end, month_end) - start) / 24
    a.dimensions = _dims(world, e)
    a.driver = {"dimension": "ResourceId", "value": resource_names(world, e)[0]}
    return a


def _level_shift(
    world: World, mon: _Month, p: int, sar: npt.NDArray[np.int64], daily: float, rng: np.random.Generator
) -> Anomaly | None:
    c = world.entries.cols
    m = world.cal.months[mon.index]
    tm, mi = c["tmpl"].astype(np.int64), c["meter"].astype(np.int64)
    cand = np.flatnonzero(mon.free & np.isin(c["kind"], (METERED, DAILY, STORAGE)))
    if not len(cand):
        return None
    group = sar[cand] * 10_000 + _METER_USAGE[tm[cand], mi[cand]]
    _keys, inv = np.unique(group, return_inverse=True)
    ut_cost = np.bincount(inv, weights=mon.cost[cand])
    whole = np.bincount(inv, weights=mon.group_cost[cand]) / np.bincount(inv)
    ut_share = ut_cost / np.maximum(whole, 1e-12)
    sar_share = whole / m.days / daily
    good = np.flatnonzero((ut_share >= 0.5) & (sar_share >= 0.01) & (sar_share <= 0.35))
    g = int(rng.choice(good)) if len(good) else int(np.argmax(ut_share))
    if ut_share[g] < 0.15:  # the driver would need more than ×5 to lift its group by 35-60 %
        return None
    entries = cand[inv == g]
    rise = float(rng.uniform(0.35, 0.6))
    day = _weekday(world, m.hour0, rng, 6, m.days - 6, last=4)
    start = m.hour0 + 24 * day
    a = Anomaly("level_shift", mon.index, p, start, None, 1 + rise / float(ut_share[g]), entries)
    a.group_factor = 1 + rise
    a.days = (m.hour0 + m.hours - start) / 24
    e = int(entries[0])
    template = TEMPLATES[int(c["tmpl"][e])][1]
    reg = PROVIDERS[p].regions[int(c["region"][e])]
    a.dimensions = _dims(world, e)
    a.driver = {
        "dimension": "x_UsageType",
        "value": usage_type(p, template, template.meters[int(c["meter"][e])], reg.code),
    }
    return a


def _new_spend(
    world: World, month: int, p: int, new_spend: list[NewService], daily: float, rng: np.random.Generator
) -> Anomaly | None:
    c = world.entries.cols
    m = world.cal.months[month]
    planned = [ns for ns in new_spend if ns.month == month and ns.provider == p]
    if not planned:
        return None
    ns = planned[0]
    entries = np.flatnonzero(
        (c["role"] == NEW_SPEND)
        & (c["tmpl"] == ns.tmpl)
        & (c["start_h"] == ns.start_h)
        & (c["account"] == ns.account)
        & (c["region"] == ns.region)
    )
    start = ns.start_h
    target = float(rng.uniform(0.03, 0.07)) * daily / len(entries)
    for e in entries.tolist():
        price = float(c["contracted_u"][e]) / 1e6
        per_hour = target / 24 / price
        c["base"][e] = max(1.0, round(per_hour)) if c["kind"][e] not in (METERED, DAILY) else per_hour
    a = Anomaly("new_spend", month, p, start, None, 1.0, entries)
    a.days = (m.hour0 + m.hours - start) / 24
    a.dimensions = _dims(world, int(entries[0]))
    a.driver = {"dimension": "ServiceName", "value": a.dimensions["ServiceName"]}
    return a


def _weekday(world: World, hour0: int, rng: np.random.Generator, lo: int, hi: int, last: int) -> int:
    """A random day of the month in [lo, hi) whose weekday is Monday..``last`` (0 = Monday)."""
    days = [d for d in range(lo, hi) if world.cal.weekday[hour0 + 24 * d] <= last]
    return int(rng.choice(days))


def mean_multiplier(a: Anomaly, cal: Calendar, month: int) -> float:
    """Average usage multiplier of an anomaly over one month (expected-cost estimates)."""
    m = cal.months[month]
    return float(a.multiplier(np.arange(m.hour0, m.hour0 + m.hours, dtype=np.float64) + 0.5).mean())
