"""Structured logs of `spendscope serve`: one JSON object per line, with the job and run id of the run.

A scheduled run sets ``current_run`` in its worker thread; every record logged meanwhile (by spendscope,
DuckDB's callers, botocore …) carries ``job`` and ``run_id``, so one run's lines can be grepped or
filtered in a log store. Messages stay spendscope's key=value text under ``msg``; no secrets are logged.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

__all__ = ["JsonFormatter", "RunContext", "configure_json_logging", "current_run", "run_context"]


@dataclass(frozen=True, slots=True)
class RunContext:
    job: str
    run_id: str


current_run: ContextVar[RunContext | None] = ContextVar("spendscope_service_run", default=None)


@contextmanager
def run_context(job: str, run_id: str) -> Iterator[RunContext]:
    """Tag the log records of this thread with ``job`` and ``run_id`` until the block ends."""
    ctx = RunContext(job, run_id)
    token = current_run.set(ctx)
    try:
        yield ctx
    finally:
        current_run.reset(token)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", "job"?, "run_id"?, "exc"?}``, ts in UTC ISO 8601 (ms)."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        data: dict[str, object] = {
            "ts": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        run = current_run.get()
        if run is not None:
            data["job"] = run.job
            data["run_id"] = run.run_id
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure_json_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one JSON-lines handler (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
