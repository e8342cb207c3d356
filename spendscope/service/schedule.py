"""Job schedules of `spendscope serve`: ``every 15m`` intervals or 5-field cron expressions, in UTC.

A schedule answers two questions the scheduler asks of the ledger, without running anything:
``next_after(t)`` (when is the run after the one that started at ``t`` due?) and, through it, whether a
run was missed while the service was down. ``trigger(jitter_s)`` builds the apscheduler 3.x trigger
that fires on the same times (plus up to ``jitter_s`` seconds of random delay).

Cron weekdays must be names (mon … sun): apscheduler 3.x numbers them from Monday = 0, crontab from
Sunday = 0, so a number would silently run on the wrong day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["Schedule", "parse_schedule"]

_EVERY = re.compile(r"^every\s+(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, slots=True)
class Schedule:
    """An interval (``interval_s``) or a cron expression (``cron``), exactly one of them."""

    text: str
    interval_s: float | None = None
    cron: str | None = None

    def trigger(self, jitter_s: float = 0.0) -> Any:
        """The apscheduler trigger (UTC); apscheduler 3.x has no type hints, hence Any."""
        from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
        from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

        jitter = jitter_s or None
        if self.interval_s is not None:
            return IntervalTrigger(seconds=self.interval_s, timezone=UTC, jitter=jitter)
        return CronTrigger(**_cron_fields(str(self.cron)), timezone=UTC, jitter=jitter)

    def next_after(self, moment: datetime) -> datetime:
        """The first due time strictly after ``moment`` (an interval counts from ``moment`` itself)."""
        if self.interval_s is not None:
            return moment + timedelta(seconds=self.interval_s)
        due = self.trigger().get_next_fire_time(None, moment + timedelta(microseconds=1))
        if due is None:  # a cron expression always has a next time; guard against an empty one
            raise ValueError(f"schedule {self.text!r} never fires")
        return due.astimezone(UTC)  # type: ignore[no-any-return]

    def period_s(self, around: datetime) -> float:
        """Seconds between the due time after ``around`` and the one after it (the interval for intervals)."""
        if self.interval_s is not None:
            return self.interval_s
        first = self.next_after(around)
        return (self.next_after(first) - first).total_seconds()


def _cron_fields(expr: str) -> dict[str, str]:
    minute, hour, day, month, day_of_week = expr.split()
    return {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": day_of_week}


def parse_schedule(text: str) -> Schedule:
    """``every N(s|m|h|d)`` or a 5-field cron expression (minute hour day month weekday, UTC).

    Raises ValueError with a one-line reason (pydantic turns it into the config error)."""
    value = " ".join(text.split()).lower()
    every = _EVERY.match(value)
    if every:
        seconds = float(every.group(1)) * _UNIT_S[every.group(2)]
        if seconds < 1:
            raise ValueError(f"schedule {text!r}: the shortest interval is 1s")
        return Schedule(text=value, interval_s=seconds)
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(f"schedule {text!r}: use 'every 15m' (s, m, h, d) or a 5-field cron expression")
    if re.search(r"\d", fields[4]):
        raise ValueError(f"schedule {text!r}: name the weekdays (mon-fri), numbers differ between cron dialects")
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger(**_cron_fields(value), timezone=UTC)
    except ValueError as exc:
        raise ValueError(f"schedule {text!r}: {exc}") from None
    return Schedule(text=value, cron=value)
