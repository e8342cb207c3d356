"""The jobs of `spendscope serve`, declared from the config, and the pure rules about when they are due.

Jobs: ``ingest:NAME`` per [[sources]] entry (its schedule, else [service] ingest_schedule); ``analyze``
after every ingest that loaded new rows (plus [service] analyze_schedule); ``export`` after every
successful analysis (metrics snapshot, Alertmanager when [alertmanager] url is set, re-sent on
[service] alerts_schedule); ``report`` on [service] report_schedule (the 3rd of each month).

``first_run`` decides, from the ledger, when a job runs after a (re)start: a run missed while the
service was down runs once, at once; a run not yet due waits for its time, so a restart neither skips
nor repeats one. ``readiness`` decides whether each job succeeded recently enough for /readyz.
Both are pure functions of the ledger's figures and ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from spendscope.config import Settings, SourceConfig
from spendscope.service.schedule import Schedule, parse_schedule

__all__ = ["Check", "JobSpec", "LedgerView", "first_run", "job_specs", "readiness"]

JobKind = Literal["ingest", "analyze", "export", "report"]


@dataclass(frozen=True, slots=True)
class JobSpec:
    id: str
    kind: JobKind
    schedule: Schedule | None
    """None: the job runs only after its upstream."""
    after: Literal["ingest", "analyze"] | None = None
    """The upstream whose new results make this job due: any ingest that loaded rows, or the analysis."""
    run_if_never: bool = True
    """Due on the first start (ingest, analyze); the report waits for its first scheduled time."""
    rank: int = 0
    """Order among jobs due at the same moment: ingest, analyze, export, report."""
    source: SourceConfig | None = None


def job_specs(settings: Settings) -> list[JobSpec]:
    """The jobs the config declares, in start order."""
    svc = settings.service
    specs = [
        JobSpec(f"ingest:{cfg.name}", "ingest", parse_schedule(cfg.schedule or svc.ingest_schedule), source=cfg)
        for cfg in settings.sources
    ]
    analyze = parse_schedule(svc.analyze_schedule) if svc.analyze_schedule else None
    specs.append(JobSpec("analyze", "analyze", analyze, after="ingest", rank=1))
    alerts = parse_schedule(svc.alerts_schedule) if settings.alertmanager.url else None
    specs.append(JobSpec("export", "export", alerts, after="analyze", rank=2))
    if svc.report_schedule:
        specs.append(JobSpec("report", "report", parse_schedule(svc.report_schedule), run_if_never=False, rank=3))
    return specs


@dataclass(frozen=True, slots=True)
class LedgerView:
    """What the rules need from the ledger about one job (all times UTC)."""

    last_success_started: datetime | None = None
    upstream_changed: datetime | None = None
    """When the upstream last produced something new (for analyze: a loaded ingest; for export: the analysis)."""


def first_run(spec: JobSpec, seen: LedgerView, *, now: datetime) -> datetime | None:
    """When the job should next run after a start at ``now``; None: only when its upstream asks.

    A scheduled job whose next due time (after its last success) has passed runs once, now: missed runs
    are coalesced, never replayed one by one. A chained job is due now when its upstream changed after
    its own last success.
    """
    due: list[datetime] = []
    last = seen.last_success_started
    if spec.schedule is not None:
        if last is not None:
            due.append(max(spec.schedule.next_after(last), now))
        elif spec.run_if_never:
            due.append(now)
        else:
            due.append(spec.schedule.next_after(now))
    changed = seen.upstream_changed
    if spec.after is not None and changed is not None and (last is None or changed > last):
        due.append(now)
    return min(due) if due else None


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def readiness(
    spec: JobSpec, seen: LedgerView, *, now: datetime, service_started: datetime, jitter_s: float, slack_s: float
) -> Check:
    """Whether ``spec`` is current: its last success is no older than its schedule allows (plus jitter and
    slack), and it has run since its upstream last changed (unless that was less than slack ago)."""
    grace = timedelta(seconds=jitter_s + slack_s)
    last = seen.last_success_started
    if spec.schedule is not None:
        if last is not None:
            due = spec.schedule.next_after(last)
            if now > due + grace:
                return Check(spec.id, False, f"late: last success {_iso(last)}, was due {_iso(due)}")
        elif spec.run_if_never or now > spec.schedule.next_after(service_started) + grace:
            return Check(spec.id, False, "no successful run yet")
    changed = seen.upstream_changed
    behind = spec.after is not None and changed is not None and (last is None or last < changed)
    if behind and changed is not None and now > changed + timedelta(seconds=slack_s):
        return Check(spec.id, False, f"behind: {spec.after} changed {_iso(changed)}, no successful run since")
    return Check(spec.id, True, f"last success {_iso(last)}" if last else "nothing due yet")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
