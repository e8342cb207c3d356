"""The ``service_runs`` ledger of `spendscope serve`: one row per run of a scheduled job.

apscheduler 3.x keeps its jobs in memory and recomputes their next run from "now" when they are added, so
the service decides from this ledger, on start, which runs it missed while it was down (and runs each
such job once). /readyz reads it to tell whether every job succeeded recently enough.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import duckdb

from spendscope import sql

RunStatus = Literal["succeeded", "failed", "interrupted"]

__all__ = ["JobStatus", "RunStatus", "finish_run", "job_status", "last_loaded_ingest", "mark_interrupted", "start_run"]


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job's last successful run and its latest run (of any status)."""

    job: str
    last_success_started: datetime | None
    last_success_finished: datetime | None
    successes: int
    last_run_id: str
    last_status: str
    last_started: datetime
    last_finished: datetime | None
    last_detail: str | None
    last_error: str | None


def start_run(conn: duckdb.DuckDBPyConnection, *, run_id: str, job: str) -> None:
    """Record a run as 'running' (committed at once, so a crash leaves it to ``mark_interrupted``).

    The start time is the process clock when called, not the statement's: a write may wait for DuckDB
    (the first one after opening can take a second or two), and the schedule is judged by this time."""
    conn.execute(
        sql.load("service/run_start"),
        {"run_id": run_id, "job": job, "started_at": datetime.now(UTC), "pid": os.getpid()},
    )


def finish_run(
    conn: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    status: RunStatus,
    changed: bool = False,
    detail: str | None = None,
    error: str | None = None,
) -> None:
    """Record the end of a run; ``detail`` and ``error`` are cut to one line of at most 500 characters."""
    conn.execute(
        sql.load("service/run_finish"),
        {
            "run_id": run_id,
            "status": status,
            "finished_at": datetime.now(UTC),
            "changed": changed,
            "detail": _line(detail),
            "error": _line(error),
        },
    )


def _line(text: str | None) -> str | None:
    return text.splitlines()[0][:500] if text else None


def mark_interrupted(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Mark runs left 'running' as 'interrupted'; only the process owning the warehouse may call this."""
    return [(str(r), str(j)) for r, j in conn.execute(sql.load("service/runs_interrupted")).fetchall()]


def job_status(conn: duckdb.DuckDBPyConnection) -> dict[str, JobStatus]:
    """Every job that ever ran, by job id."""
    rows = conn.execute(sql.load("service/job_status")).fetchall()
    return {str(row[0]): JobStatus(*row) for row in rows}


def last_loaded_ingest(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    """When an ingest (of any process) last loaded new rows; None when none ever did."""
    row = conn.execute(sql.load("service/last_loaded_ingest")).fetchone()
    return row[0] if row else None
