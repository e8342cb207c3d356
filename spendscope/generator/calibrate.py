"""Tag hygiene: about 12.5 % of usage spend untagged, plus a few realistic tagging mistakes.

Untagged spend comes from three places, as in real estates: whole resources nobody tagged (picked
at random until about 10 % of the expected spend), unused commitment hours (no resource, no
tags), and orphaned disks or snapshots whose size is set per month so the untagged share lands
near 12.5 % in every month even as tagged spend grows or jumps (trend, anomalies). Faults (key
``Team`` instead of ``team``, ``owner`` instead of ``team``, ``env: Prod``) are drawn per resource
among the tagged ones; their realized share is reported from the written rows.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from spendscope.generator.anomalies import Anomaly, mean_multiplier
from spendscope.generator.entries import (
    FAULT_KEY_CASE,
    FAULT_OWNER,
    FAULT_VALUE_CASE,
    FILLER,
    PROVIDERS,
    TAGGED,
    UNTAGGED,
    UNTAGGED_FILLER,
    expected_cost,
)
from spendscope.generator.world import World

TARGET_UNTAGGED = 0.125
GREEDY_UNTAGGED = (0.09, 0.11)
"""Whole untagged resources are added until their share is in this band (never above its top)."""


def expected_matrix(world: World, anomalies: list[Anomaly]) -> npt.NDArray[np.float64]:
    """Expected EffectiveCost per entry and month, anomalies included."""
    cal = world.cal
    out = np.stack([expected_cost(cal, world.entries, m.index) for m in cal.months], axis=1)
    for a in anomalies:
        if a.kind != "new_spend":
            for m in cal.months:
                out[a.entries, m.index] *= mean_multiplier(a, cal, m.index)
    return out


def unused_cost(world: World, p: int) -> npt.NDArray[np.float64]:
    """Expected EffectiveCost of unused commitment hours per month (these rows carry no tags)."""
    cal = world.cal
    cm = world.commitments.get(p)
    out = np.zeros(len(cal.months))
    if cm is None:
        return out
    c = world.entries.cols
    for m in cal.months:
        h = np.arange(m.hour0, m.hour0 + m.hours)
        used = sum(float(c["base"][e]) * cal.running[int(c["schedule"][e]), h].sum() for e in cm.covered.tolist())
        out[m.index] = (cm.capacity_u / 1e6 * m.hours - used) * cm.rate_u / 1e6
    return out


def calibrate(world: World, anomalies: list[Anomaly]) -> None:
    """Set tag_state (untagged resources, faults) and the orphaned storage size per month.

    Anomaly drivers keep their clean tags, so ground truth's dimensions and drivers stay attributable.
    """
    c = world.entries.cols
    cost = expected_matrix(world, anomalies)
    resource = c["resource"].astype(np.int64)
    protected = np.unique(resource[np.concatenate([a.entries for a in anomalies] or [np.zeros(0, np.int64)])])
    for p in range(len(PROVIDERS)):
        rng = np.random.default_rng([world.seed, 61, p])
        in_p = c["provider"] == p
        orphan = in_p & (c["role"] == UNTAGGED_FILLER)
        unused = unused_cost(world, p)
        total_m = cost[in_p & ~orphan].sum(axis=0) + unused
        total = float(total_m.sum())
        candidates = np.flatnonzero(in_p & (c["role"] == FILLER) & ~np.isin(resource, protected))
        res_ids, inv = np.unique(resource[candidates], return_inverse=True)
        res_cost = np.zeros((len(res_ids), len(total_m)))
        np.add.at(res_cost, inv, cost[candidates])
        untagged = unused.copy()
        low, high = GREEDY_UNTAGGED[0] * total_m, GREEDY_UNTAGGED[1] * total_m
        chosen: list[int] = []
        for r in rng.permutation(len(res_ids)).tolist():  # whole resources, every month under the cap
            if (untagged >= low).all():
                break
            if (untagged + res_cost[r] <= high).all():
                untagged += res_cost[r]
                chosen.append(int(res_ids[r]))
        is_untagged = in_p & np.isin(resource, chosen)
        c["tag_state"][is_untagged] = UNTAGGED
        c["empty_obj"][is_untagged] = np.isin(resource[is_untagged], chosen[::3])
        free = in_p & (c["role"] == FILLER) & ~np.isin(resource, protected)
        tagged = np.flatnonzero(free & (c["tag_state"] == TAGGED))
        _faults(world, p, rng, tagged, cost.sum(axis=1), total)
        # orphaned storage: sized per month so (untagged + orphan) / total ≈ TARGET_UNTAGGED
        u_m = cost[is_untagged].sum(axis=0) + unused
        x_m = cost[in_p & ~orphan & ~is_untagged].sum(axis=0)
        f_m = np.maximum((TARGET_UNTAGGED * (x_m + u_m) - u_m) / (1 - TARGET_UNTAGGED), 0.002 * (x_m + u_m))
        idx = np.flatnonzero(orphan)
        weight = c["base"][idx] / c["base"][idx].mean()
        c["base"][idx] = weight
        price = float(c["contracted_u"][idx[0]]) / 1e6
        world.orphan_gb[p] = f_m / len(idx) / price


def _faults(
    world: World,
    p: int,
    rng: np.random.Generator,
    tagged: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float64],
    total: float,
) -> None:
    """Per small tagged resource: 3 % key 'Team', 2.5 % 'owner' for team, 2.5 % 'env: Prod'.

    Only resources below 1.5 % of the provider's spend get a random fault, so faults stay "a few
    resources" at any bill size; each kind the provider can show appears at least once (on the
    smallest resource, if one is below 5 %). GCP labels are lower case, so GCP only gets 'owner'.
    """
    c = world.entries.cols
    resource = c["resource"][tagged].astype(np.int64)
    res_ids, inv = np.unique(resource, return_inverse=True)
    res_cost = np.bincount(inv, weights=cost[tagged], minlength=len(res_ids))
    small = res_cost <= 0.015 * total
    u = rng.random(len(res_ids))
    kinds = (FAULT_KEY_CASE, FAULT_OWNER, FAULT_VALUE_CASE) if PROVIDERS[p].upper_case_faults else (FAULT_OWNER,)
    if len(kinds) == 3:
        state = np.select([u < 0.03, u < 0.055, u < 0.08], list(kinds), TAGGED)
    else:
        state = np.where(u < 0.045, FAULT_OWNER, TAGGED)
    state = np.where(small, state, TAGGED)
    for kind in kinds:
        clean = np.flatnonzero((state == TAGGED) & (res_cost <= 0.05 * total))
        if not (state == kind).any() and len(clean) > 1:
            state[int(clean[np.argmin(res_cost[clean])])] = kind
    c["tag_state"][tagged] = state[inv]
