"""Analysis runs in the ``analysis_runs`` ledger, and the atomic replacement of their results.

A run is started (status ``running``), then finished (``succeeded``) or failed (``failed``, with
a one-line error). Results of a run replace the previous results of the same periods in one
transaction, so readers see either the old rows or the new ones, never a mix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

import duckdb
import polars as pl

from spendscope import sql
from spendscope.errors import WarehouseError
from spendscope.warehouse.db import transaction

__all__ = [
    "fail_run",
    "finish_run",
    "recorded_run",
    "replace_allocated_daily",
    "replace_results",
    "replace_tables",
    "start_run",
]

log = logging.getLogger(__name__)

_FRAME = "allocated_frame"


def start_run(conn: duckdb.DuckDBPyConnection) -> int:
    """Record a new run (status 'running'); returns its run_id."""
    row = conn.execute(
        "INSERT INTO analysis_runs (run_id, started_at, status) "
        "VALUES (nextval('analysis_run_seq'), now(), 'running') RETURNING run_id"
    ).fetchone()
    if row is None:
        raise WarehouseError("could not record an analysis run", source="analysis_runs")
    return int(row[0])


def finish_run(conn: duckdb.DuckDBPyConnection, run_id: int) -> None:
    conn.execute(
        "UPDATE analysis_runs SET status = 'succeeded', finished_at = now() WHERE run_id = $id", {"id": run_id}
    )


def fail_run(conn: duckdb.DuckDBPyConnection, run_id: int, *, error: str) -> None:
    """Mark the run failed with a one-line error (no secrets: callers pass exception text only)."""
    conn.execute(
        "UPDATE analysis_runs SET status = 'failed', finished_at = now(), error = $e WHERE run_id = $id",
        {"id": run_id, "e": error[:500]},
    )


@contextmanager
def recorded_run(conn: duckdb.DuckDBPyConnection) -> Iterator[int]:
    """``with recorded_run(conn) as run_id:`` — the run is started, then finished, or failed with a one-line
    error (the exception's type and first line; no secrets: exception text only) and the exception re-raised."""
    run_id = start_run(conn)
    try:
        yield run_id
    except BaseException as exc:
        fail_run(conn, run_id, error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise
    finish_run(conn, run_id)


def replace_allocated_daily(
    conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame, *, run_id: int, periods: list[datetime] | None
) -> int:
    """Replace ``allocated_daily`` for ``periods`` (every period when None) with ``frame``, atomically.

    ``frame`` has allocation.OUTPUT_COLUMNS; rows outside ``periods`` are refused, so a run never
    writes a period it did not delete. Returns the number of rows inserted.
    """
    if periods is not None:
        outside = frame.filter(
            ~pl.col("billing_period_start").is_in(periods) | pl.col("billing_period_start").is_null()
        )
        if outside.height:
            raise WarehouseError(
                f"{outside.height} allocated rows fall outside the periods replaced", source="allocated_daily"
            )
    conn.register(_FRAME, frame.to_arrow())
    try:
        with transaction(conn):
            conn.execute(
                sql.load("analysis/allocated_daily_delete"),
                {"all": periods is None, "periods": periods or []},
            )
            conn.execute(sql.load("analysis/allocated_daily_insert"), {"run_id": run_id})
    finally:
        conn.unregister(_FRAME)
    log.info("allocated_daily replaced run_id=%d rows=%d", run_id, frame.height)
    return frame.height


def replace_results(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    run_id: int,
    scope: str = "TRUE",
    params: Mapping[str, object] | None = None,
) -> int:
    """Replace the rows of result ``table`` selected by the SQL predicate ``scope`` with ``frame``.

    One transaction: readers see the previous results or the new ones, never a mix. ``frame``'s
    columns are inserted by name (a column the table lacks is an error); the table's ``run_id``
    column is set to ``run_id``. ``table`` and ``scope`` are SQL written by spendscope, never user
    input; values go in ``params``. Returns the number of rows inserted.
    """
    return replace_tables(conn, {table: frame}, run_id=run_id, scope=scope, params=params)


def replace_tables(
    conn: duckdb.DuckDBPyConnection,
    frames: Mapping[str, pl.DataFrame],
    *,
    run_id: int,
    scope: str = "TRUE",
    params: Mapping[str, object] | None = None,
) -> int:
    """``replace_results`` for several tables sharing one ``scope``, all in one transaction."""
    names = [f"{_FRAME}_{i}" for i in range(len(frames))]
    for name, frame in zip(names, frames.values(), strict=True):
        conn.register(name, frame.to_arrow())
    try:
        with transaction(conn):
            for name, (table, frame) in zip(names, frames.items(), strict=True):
                conn.execute(f"DELETE FROM {table} WHERE {scope}", dict(params or {}))
                if frame.height:
                    conn.execute(
                        f"INSERT INTO {table} BY NAME SELECT *, CAST($run_id AS BIGINT) AS run_id FROM {name}",
                        {"run_id": run_id},
                    )
    finally:
        for name in names:
            conn.unregister(name)
    for table, frame in frames.items():
        log.info("%s replaced run_id=%d rows=%d", table, run_id, frame.height)
    return sum(f.height for f in frames.values())
