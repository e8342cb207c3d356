"""The world as arrays: one *entry* per (resource, meter), the unit the row generator expands.

A resource (an EC2 instance, a bucket) has one or more meters; each meter becomes one entry with
its own quantity model and price, sharing the resource's identity, tags and lifecycle. Keeping the
world as flat numpy arrays (not objects) is what lets 10M-row bills be generated in bounded
memory: strings are rendered only for the entries of the chunk being written (``names.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from spendscope.generator.catalogue import DAILY, METERED, STORAGE, VM, Provider, ResourceTemplate
from spendscope.generator.cloud_aws import AWS
from spendscope.generator.cloud_azure import AZURE
from spendscope.generator.cloud_gcp import GCP
from spendscope.generator.shapes import HOURS_PER_MONTH_AVG, Calendar, active_hours, app_trend

PROVIDERS: Final[tuple[Provider, ...]] = (AWS, AZURE, GCP)
TEMPLATES: Final[tuple[tuple[int, ResourceTemplate], ...]] = tuple(
    (p, t) for p, prov in enumerate(PROVIDERS) for t in prov.templates + prov.new_services
)
TEMPLATE_INDEX: Final[dict[tuple[int, str], int]] = {(p, t.key): i for i, (p, t) in enumerate(TEMPLATES)}
ENVS: Final = ("prod", "staging", "dev")
HOURLY_KINDS: Final = (VM, METERED)

# tag_state values
TAGGED, UNTAGGED, FAULT_KEY_CASE, FAULT_OWNER, FAULT_VALUE_CASE = 0, 1, 2, 3, 4
TAG_STATE_NAMES: Final = ("tagged", "untagged", "key_case_Team", "owner_instead_of_team", "value_case_Prod")
# role values
FILLER, CORE, UNTAGGED_FILLER, NEW_SPEND = 0, 1, 2, 3

_FIELDS: Final[dict[str, type]] = {
    "provider": np.int8,
    "tmpl": np.int16,
    "meter": np.int8,
    "resource": np.int32,
    "account": np.int16,
    "region": np.int8,
    "zone": np.int8,
    "app": np.int16,
    "env": np.int8,
    "kind": np.int8,
    "schedule": np.int8,
    "start_h": np.int64,
    "end_h": np.int64,
    "base": np.float64,
    "growth": np.float64,
    "list_u": np.int64,
    "contracted_u": np.int64,
    "rate_u": np.int64,
    "commit": np.int8,
    "tag_state": np.int8,
    "empty_obj": np.bool_,
    "role": np.int8,
}


@dataclass
class Entries:
    """Column arrays, one element per entry. Prices are integer micro-units (1e-6) of the billing currency."""

    cols: dict[str, npt.NDArray[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cols["provider"])

    def i64(self, name: str) -> npt.NDArray[np.int64]:
        return self.cols[name].astype(np.int64, copy=False)

    def f64(self, name: str) -> npt.NDArray[np.float64]:
        return self.cols[name].astype(np.float64, copy=False)


class EntryBuilder:
    """Accumulates resources as Python lists; ``freeze()`` turns them into ``Entries`` arrays."""

    def __init__(self) -> None:
        self.lists: dict[str, list[float | int | bool]] = {k: [] for k in _FIELDS}
        self.resources = 0

    def __len__(self) -> int:
        return len(self.lists["provider"])

    def add_resource(
        self,
        rng: np.random.Generator,
        *,
        provider: int,
        tmpl: int,
        account: int,
        region: int,
        app: int,
        env: int,
        schedule: int,
        start_h: int,
        end_h: int,
        role: int,
        meters: tuple[int, ...] | None = None,
    ) -> list[int]:
        """Add one resource (all its meters, or ``meters``); returns the new entry indices."""
        prov = PROVIDERS[provider]
        template = TEMPLATES[tmpl][1]
        reg = prov.regions[region]
        zone = int(rng.integers(len(reg.zones))) if template.zonal and reg.zones else -1
        serial = self.resources
        self.resources += 1
        added = []
        for mi in meters if meters is not None else range(len(template.meters)):
            m = template.meters[mi]
            lo, hi = m.base
            if m.kind == VM:
                base = float(round(lo if hi <= lo else rng.integers(int(lo), int(hi) + 1)))
            else:
                base = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
                if env != 0:
                    base *= 0.3
            list_u = round(m.price * reg.price_factor * 1e6)
            contracted_u = int(list_u * (1.0 - m.discount))
            row = {
                "provider": provider,
                "tmpl": tmpl,
                "meter": mi,
                "resource": serial,
                "account": account,
                "region": region,
                "zone": zone,
                "app": app,
                "env": env,
                "kind": m.kind,
                "schedule": schedule,
                "start_h": start_h,
                "end_h": end_h,
                "base": base,
                "growth": float(rng.uniform(0.0, 0.04)) if m.kind == STORAGE else 0.0,
                "list_u": list_u,
                "contracted_u": contracted_u,
                "rate_u": 0,
                "commit": -1,
                "tag_state": TAGGED,
                "empty_obj": False,
                "role": role,
            }
            for k, v in row.items():
                self.lists[k].append(v)
            added.append(len(self) - 1)
        return added

    def freeze(self) -> Entries:
        return Entries({k: np.asarray(v, dtype=_FIELDS[k]) for k, v in self.lists.items()})


def stream_rows(
    cal: Calendar,
    kind: npt.NDArray[np.int64],
    schedule: npt.NDArray[np.int64],
    start: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Rows written in [start, end) (range hours): hours for hourly kinds, days for daily ones."""
    hourly = (kind == VM) | (kind == METERED)
    hours = active_hours(cal, start, end, np.where(hourly, schedule, 0))
    return np.where(hourly, hours, hours // 24)


def rows_in_month(cal: Calendar, e: Entries, idx: npt.NDArray[np.int64], month: int) -> npt.NDArray[np.int64]:
    """Rows each entry in ``idx`` writes in one month."""
    m = cal.months[month]
    s = np.maximum(e.i64("start_h")[idx], m.hour0)
    t = np.minimum(e.i64("end_h")[idx], m.hour0 + m.hours)
    return stream_rows(cal, e.i64("kind")[idx], e.i64("schedule")[idx], s, np.maximum(s, t))


def template_rows(cal: Calendar, template: ResourceTemplate, schedule: int, start: int, end: int) -> int:
    """Rows one resource of ``template`` writes over the range (sizing, before the entries exist)."""
    kinds = np.array([m.kind for m in template.meters], dtype=np.int64)
    n = len(kinds)
    rows = stream_rows(cal, kinds, np.full(n, schedule), np.full(n, start), np.full(n, end))
    return int(rows.sum())


def expected_cost(cal: Calendar, e: Entries, month: int) -> npt.NDArray[np.float64]:
    """Noise-free expected EffectiveCost of every entry in one month, before anomalies.

    Used to size things relative to each other (untagged share, anomaly magnitudes), never
    reported: ground truth is computed from the rows actually written.
    """
    m = cal.months[month]
    all_idx = np.arange(len(e), dtype=np.int64)
    periods = rows_in_month(cal, e, all_idx, month).astype(np.float64)
    kind = e.i64("kind")
    price = np.where(e.i64("commit") >= 0, e.i64("rate_u"), e.i64("contracted_u")) / 1e6
    mid = m.hour0 + m.hours / 2
    trend = app_trend(e.i64("app"), mid)
    base = e.f64("base")
    storage_gb = base * (1 + e.f64("growth")) ** (mid / HOURS_PER_MONTH_AVG)
    per_period = np.select(
        [kind == VM, kind == METERED, kind == DAILY, kind == STORAGE],
        [base, base * trend, base * trend, storage_gb * 24 / m.hours],
    )
    return np.asarray(per_period * price * periods, dtype=np.float64)
