"""The scheduler of `spendscope serve`: apscheduler 3.x running the configured jobs on one writer thread.

- One writer: every job runs on a single-thread executor, in submission order, each with its own cursor
  on the one database instance the service owns. The HTTP API reads meanwhile through cursors of its own
  (DuckDB's MVCC: a request sees committed data only).
- Max one instance per scheduled job, coalescing, no misfire limit (a run queued behind a long analysis
  still runs). Chained jobs (analyze, export) may have one more run queued behind the running one: a
  request while one is queued is already covered by it.
- Chaining through the scheduler's job events: an ingest that loaded rows asks for ``analyze``, a
  successful analysis asks for ``export``.
- Missed runs: apscheduler's memory job store forgets everything on exit, so on start each job's first
  run comes from the ``service_runs`` ledger (``jobs.first_run``).
- Stop: no new runs; the running job gets ``shutdown_timeout_s`` to finish, then its query is interrupted
  (its transaction rolls back) and it gets a few more seconds to record that.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED  # type: ignore[import-untyped]
from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]

from spendscope.config import Settings
from spendscope.errors import SpendscopeError
from spendscope.service.jobs import Check, JobSpec, LedgerView, first_run, job_specs, readiness
from spendscope.service.logs import run_context
from spendscope.service.work import Outcome, Refreshable, run_job
from spendscope.warehouse import service_runs
from spendscope.warehouse.db import cursor

__all__ = ["ServiceScheduler"]

log = logging.getLogger(__name__)

_ON_DEMAND = datetime(9000, 1, 1, tzinfo=UTC)
_INTERRUPT_GRACE_S = 5.0


class _OnDemand(BaseTrigger):  # type: ignore[misc]
    """The trigger of a job that runs only when its upstream asks (modify_job(next_run_time=now)).

    It never fires by itself, yet stays in the job store (apscheduler removes a job whose trigger
    returns None)."""

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        return _ON_DEMAND

    def __str__(self) -> str:
        return "on demand"


@dataclass
class _Active:
    run_id: str
    cursor: duckdb.DuckDBPyConnection
    interrupted: bool = False


class ServiceScheduler:
    """The configured jobs on an apscheduler BackgroundScheduler; ``start()``, then ``stop(timeout_s)``."""

    def __init__(
        self, conn: duckdb.DuckDBPyConnection, settings: Settings, *, metrics: Refreshable | None = None
    ) -> None:
        self.specs = {spec.id: spec for spec in job_specs(settings)}
        self.settings = settings
        self.started_at: datetime | None = None
        self._conn = conn
        self._metrics = metrics
        self._lock = threading.Lock()
        self._writer = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending: set[str] = set()
        self._active: dict[str, _Active] = {}
        self._stopping = threading.Event()
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Mark runs a previous process left 'running' as interrupted, schedule every job from the ledger, start."""
        cur = cursor(self._conn)
        try:
            for run_id, job in service_runs.mark_interrupted(cur):
                log.warning("run interrupted by the previous process job=%s run_id=%s", job, run_id)
            seen = self._ledger(cur)
        finally:
            cur.close()
        now = datetime.now(UTC)
        self.started_at = now
        jitter = self.settings.service.jitter_s
        for spec in self.specs.values():
            when = first_run(spec, seen[spec.id], now=now)
            if when is not None and when <= now:  # submitted ingest → analyze → export → report (sorted by time)
                when = now + timedelta(milliseconds=spec.rank)
                if spec.after is not None:  # this queued run covers what its upstream asks for meanwhile
                    self._pending.add(spec.id)
            self._scheduler.add_job(
                self._run,
                trigger=spec.schedule.trigger(jitter) if spec.schedule else _OnDemand(),
                args=[spec.id],
                id=spec.id,
                name=spec.id,
                next_run_time=when or _ON_DEMAND,
                max_instances=1 if spec.after is None else 2,
            )
            log.info(
                "job scheduled job=%s schedule=%s after=%s first_run=%s",
                spec.id,
                spec.schedule.text if spec.schedule else "-",
                spec.after or "-",
                when.isoformat() if when else "when asked",
            )
        self._scheduler.add_listener(self._on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self._scheduler.start()

    def stop(self, timeout_s: float) -> bool:
        """Run nothing new; wait up to ``timeout_s`` for the running job, then interrupt it.

        Returns True when no job is left running (the warehouse can be closed)."""
        self._stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        with self._lock:
            if self._wait_idle(timeout_s):
                return True
            for job, active in self._active.items():
                log.warning("shutdown timeout: interrupting job=%s run_id=%s", job, active.run_id)
                active.interrupted = True
                active.cursor.interrupt()
            return self._wait_idle(_INTERRUPT_GRACE_S)

    def _wait_idle(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self._active:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.wait(remaining)
        return True

    # ------------------------------------------------------------------ runs

    def request(self, job_id: str) -> None:
        """Run ``job_id`` as soon as the writer is free (once, however often it is asked meanwhile)."""
        with self._lock:
            if self._stopping.is_set() or job_id in self._pending or job_id not in self.specs:
                return
            self._pending.add(job_id)
        self._scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    @contextmanager
    def exclusive(self, timeout_s: float) -> Iterator[None]:
        """Hold the writer for a write outside the jobs (an audited cleanup plan); TimeoutError when a job
        keeps it longer than ``timeout_s``."""
        if not self._writer.acquire(timeout=timeout_s):
            raise TimeoutError(f"the writer stayed busy for {timeout_s:.0f}s")
        try:
            yield
        finally:
            self._writer.release()

    def _run(self, job_id: str) -> Outcome | None:
        spec = self.specs[job_id]
        with self._writer:
            if self._stopping.is_set():
                log.info("run skipped: the service is stopping job=%s", job_id)
                return None
            run_id = uuid.uuid4().hex[:16]
            cur = cursor(self._conn)
            with self._lock:  # from here on this run covers every request made so far
                self._pending.discard(job_id)
                self._active[job_id] = _Active(run_id, cur)
            try:
                with run_context(job_id, run_id):
                    return self._record(spec, run_id, cur)
            finally:
                with self._lock:
                    del self._active[job_id]
                    self._changed.notify_all()
                cur.close()

    def _record(self, spec: JobSpec, run_id: str, cur: duckdb.DuckDBPyConnection) -> Outcome:
        started = time.perf_counter()
        log.info("job started")
        service_runs.start_run(cur, run_id=run_id, job=spec.id)
        try:
            outcome = run_job(spec, cur, self.settings, metrics=self._metrics)
        except SpendscopeError as exc:
            outcome = Outcome(ok=False, detail="", error=str(exc))
        except Exception as exc:  # the job wrapper is the one place that catches broadly: it records the failure
            if not self._interrupted(spec.id):
                log.exception("job crashed")
            outcome = Outcome(ok=False, detail="", error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        status: service_runs.RunStatus = (
            "succeeded" if outcome.ok else "interrupted" if self._interrupted(spec.id) else "failed"
        )
        service_runs.finish_run(
            cur, run_id=run_id, status=status, changed=outcome.changed, detail=outcome.detail, error=outcome.error
        )
        log.log(
            logging.INFO if outcome.ok else logging.ERROR,
            "job finished status=%s changed=%s seconds=%.2f detail=%s error=%s",
            status,
            outcome.changed,
            time.perf_counter() - started,
            outcome.detail or "-",
            outcome.error or "-",
        )
        return outcome

    def _interrupted(self, job_id: str) -> bool:
        with self._lock:
            active = self._active.get(job_id)
            return active is not None and active.interrupted

    def _on_event(self, event: Any) -> None:
        """Chain: an ingest that loaded rows asks for the analysis; a successful analysis for the export."""
        outcome = getattr(event, "retval", None)
        spec = self.specs.get(event.job_id)
        if spec is None or not isinstance(outcome, Outcome):
            return
        if (spec.kind == "ingest" and outcome.changed) or (spec.kind == "analyze" and outcome.ok):
            for downstream in self.specs.values():
                if downstream.after == spec.kind:
                    self.request(downstream.id)

    # ------------------------------------------------------------------ status

    def _ledger(self, cur: duckdb.DuckDBPyConnection) -> dict[str, LedgerView]:
        status = service_runs.job_status(cur)
        loaded = service_runs.last_loaded_ingest(cur)
        analyzed = status["analyze"].last_success_finished if "analyze" in status else None
        views = {}
        for spec in self.specs.values():
            own = status.get(spec.id)
            upstream = loaded if spec.after == "ingest" else analyzed if spec.after == "analyze" else None
            views[spec.id] = LedgerView(own.last_success_started if own else None, upstream)
        return views

    def readiness(self, cur: duckdb.DuckDBPyConnection) -> list[Check]:
        """One check per job (see jobs.readiness); not ready before ``start``."""
        if self.started_at is None or self._stopping.is_set():
            return [Check("scheduler", False, "stopping" if self._stopping.is_set() else "not started")]
        seen = self._ledger(cur)
        now = datetime.now(UTC)
        jitter, slack = self.settings.service.jitter_s, self.settings.service.ready_slack_s
        since = self.started_at
        return [
            readiness(spec, seen[spec.id], now=now, service_started=since, jitter_s=jitter, slack_s=slack)
            for spec in self.specs.values()
        ]

    def jobs(self, cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        """Each job: schedule, next run, the run in progress and the ledger's last runs (for /api/v1/jobs)."""
        status = service_runs.job_status(cur)
        with self._lock:
            active = {job: a.run_id for job, a in self._active.items()}
        out = []
        for spec in self.specs.values():
            job = self._scheduler.get_job(spec.id) if self._scheduler.running else None
            nxt = job.next_run_time if job is not None else None
            last = status.get(spec.id)
            out.append(
                {
                    "id": spec.id,
                    "schedule": spec.schedule.text if spec.schedule else None,
                    "after": spec.after,
                    "next_run": nxt.isoformat() if nxt is not None and nxt < _ON_DEMAND else None,
                    "running_run_id": active.get(spec.id),
                    "successes": last.successes if last else 0,
                    "last_success_started": _iso(last.last_success_started) if last else None,
                    "last_run": None
                    if last is None
                    else {
                        "run_id": last.last_run_id,
                        "status": last.last_status,
                        "started": _iso(last.last_started),
                        "finished": _iso(last.last_finished),
                        "detail": last.last_detail,
                        "error": last.last_error,
                    },
                }
            )
        return out


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
