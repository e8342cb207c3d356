"""Time: the generated months, office hours, and the traffic curves that drive usage and transactions.

All times are hours since the start of the generated range (UTC, so no daylight-saving gaps).
The demand curve of an app is shared by every metered resource of that app *and* by its
transactions file, which is what keeps cost per request roughly stable: usage and requests move
together, with a few percent of independent noise on each.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from spendscope.generator.catalogue import APPS, App

HOURS_PER_MONTH_AVG = 730.5
OFFICE_START, OFFICE_END = 7, 19
"""Office hours (UTC) during which staging/dev resources on a schedule run, Monday to Friday."""
ALWAYS, OFFICE_HOURS, NIGHTLY_STOP = 0, 1, 2
"""Run schedules of hourly resources: always on; weekdays 07–19 UTC; stopped 00–06 UTC every night."""

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Month:
    index: int
    period: str
    start_us: int
    end_us: int
    hour0: int
    """Hours from the range start to this month's start."""
    hours: int
    days: int


@dataclass(frozen=True, slots=True)
class Calendar:
    months: tuple[Month, ...]
    total_hours: int
    running: BOOL
    """Per schedule (row) and range hour (column): does a resource on that schedule run."""
    running_cum: I64
    """Prefix sums of ``running`` (total_hours + 1 columns), for counting scheduled hours fast."""
    weekday: npt.NDArray[np.int8]
    hour_of_day: npt.NDArray[np.int8]


def parse_month(month: str) -> tuple[int, int]:
    """(year, month) from "YYYY-MM"; ValueError otherwise."""
    parts = month.split("-")
    if len(parts) != 2 or len(parts[0]) != 4 or len(parts[1]) != 2 or not (parts[0] + parts[1]).isdigit():
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    year, mon = int(parts[0]), int(parts[1])
    if not 1 <= mon <= 12:
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    return year, mon


def make_calendar(month: str, months: int) -> Calendar:
    year, mon = parse_month(month)
    out: list[Month] = []
    hour0 = 0
    for i in range(months):
        y, m = year + (mon - 1 + i) // 12, (mon - 1 + i) % 12 + 1
        days = _calendar.monthrange(y, m)[1]
        start = datetime(y, m, 1, tzinfo=UTC)
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        end = datetime(ny, nm, 1, tzinfo=UTC)
        out.append(Month(i, f"{y:04d}-{m:02d}", _us(start), _us(end), hour0, days * 24, days))
        hour0 += days * 24
    hours = np.arange(hour0, dtype=np.int64)
    first_weekday = datetime(year, mon, 1, tzinfo=UTC).weekday()
    weekday = ((first_weekday + hours // 24) % 7).astype(np.int8)
    hod = (hours % 24).astype(np.int8)
    office = (weekday < 5) & (hod >= OFFICE_START) & (hod < OFFICE_END)
    running = np.stack([np.ones(hour0, dtype=bool), office, hod >= 6])
    cum = np.zeros((3, hour0 + 1), dtype=np.int64)
    np.cumsum(running, axis=1, out=cum[:, 1:])
    return Calendar(tuple(out), hour0, running, cum, weekday, hod)


def _us(ts: datetime) -> int:
    return int(ts.timestamp()) * 1_000_000


def active_hours(cal: Calendar, start: I64, end: I64, schedule: I64) -> I64:
    """Hours a resource on ``schedule`` runs in [start, end) (range hours)."""
    s = np.clip(start, 0, cal.total_hours)
    e = np.maximum(np.clip(end, 0, cal.total_hours), s)
    return np.asarray(cal.running_cum[schedule, e] - cal.running_cum[schedule, s], dtype=np.int64)


def _profile_week(app: App, nonprod: bool) -> F64:
    """The app's mean-1 shape over one week (168 hours, Monday 00:00 UTC first)."""
    hod = np.tile(np.arange(24, dtype=np.float64), 7)
    dow = np.repeat(np.arange(7), 24)
    weekend = dow >= 5
    if nonprod:  # engineers test during office hours
        shape = np.where((~weekend) & (hod >= 8) & (hod < 19), 1.0, 0.18)
    elif app.profile == "traffic":
        shape = (1 + 0.45 * np.cos(2 * np.pi * (hod - app.peak_hour_utc) / 24)) * np.where(weekend, 0.72, 1.0)
    elif app.profile == "batch":
        dist = np.minimum(np.abs(hod - app.peak_hour_utc), 24 - np.abs(hod - app.peak_hour_utc))
        shape = (0.35 + 2.2 * np.exp(-((dist / 2.0) ** 2))) * np.where(weekend, 0.9, 1.0)
    elif app.profile == "business":
        shape = np.where((~weekend) & (hod >= 7) & (hod < 18), 1.0, 0.3) * np.where(weekend, 0.6, 1.0)
    else:  # flat
        shape = 1 + 0.1 * np.cos(2 * np.pi * (hod - app.peak_hour_utc) / 24)
    return np.asarray(shape / shape.mean(), dtype=np.float64)


def demand(cal: Calendar, month: Month, seed: int) -> F64:
    """Demand per (app × {prod, non-prod}) and hour of the month, mean ≈ 1 at the range start.

    Row ``2 * app + nonprod``. Includes the app's compound growth (continuous across months), a
    per-day factor (σ 3 %) and a per-hour factor (σ 2 %), seeded per month so any month can be
    generated on its own.
    """
    rng = np.random.default_rng([seed, 11, month.index])
    n = len(APPS)
    h = np.arange(month.hour0, month.hour0 + month.hours)
    week_pos = cal.weekday[h].astype(np.int64) * 24 + cal.hour_of_day[h]
    out = np.empty((2 * n, month.hours), dtype=np.float64)
    day_noise = rng.lognormal(0.0, 0.03, size=(2 * n, month.days))
    hour_noise = rng.lognormal(0.0, 0.02, size=(2 * n, month.hours))
    for i, app in enumerate(APPS):
        trend = (1 + app.growth_per_month) ** ((h + 0.5) / HOURS_PER_MONTH_AVG)
        for nonprod in (0, 1):
            row = 2 * i + nonprod
            shape = _profile_week(app, bool(nonprod))[week_pos]
            out[row] = shape * trend * np.repeat(day_noise[row], 24) * hour_noise[row]
    return out


def app_trend(app_index: npt.NDArray[np.int64], hour: float) -> F64:
    """Traffic trend factor of each app at a range hour (expected-cost estimates)."""
    growth = np.array([a.growth_per_month for a in APPS])[app_index]
    return np.asarray((1 + growth) ** (hour / HOURS_PER_MONTH_AVG), dtype=np.float64)
