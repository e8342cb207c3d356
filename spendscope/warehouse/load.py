"""Loading a set of files into the warehouse: one transaction per load, units replaced whole.

A load unit is (source, billing period). The files of one load are first inserted into a temporary staging
table (``billing_staging``, tagged with the load's ``x_IngestId``), each file committed on its own so that
DuckDB can spill it: memory stays within ``memory_limit`` whatever the file's size (inside one transaction,
DuckDB keeps uncommitted rows pinned, and checking 15 M of them ran out of memory). The staged rows are
normalized and checked there (``sql/checks``, ``sql/normalize``, ``sql/deviations``). Then one transaction
deletes the units the load replaces (same source, same billing period: a restatement), moves the staged rows
into ``billing`` and writes the ledger rows and totals and the collector's cursors. Any failure before or
inside it leaves ``billing`` and the ledger as they were; the failure is then recorded in the ledger in a
transaction of its own. Staging is dropped after every load (a killed process takes it along). A load of
exactly the files whose units are all still loaded is a no-op.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import duckdb

from spendscope import sql
from spendscope.errors import BadData, SpendscopeError, UnknownCurrency, WarehouseError
from spendscope.focus import ALLOWED_VALUES
from spendscope.warehouse.db import transaction
from spendscope.warehouse.files import SourceFile, fileset_sha256

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
"""progress(file, fraction of the load done 0..1)."""


@dataclass(frozen=True, slots=True)
class FilePlan:
    """How to read one input file: a SELECT giving warehouse columns by name, with parameters."""

    file: SourceFile
    select_sql: str
    params: dict[str, object]
    diagnose: Callable[[duckdb.DuckDBPyConnection, duckdb.Error], SpendscopeError]
    """Turns a DuckDB error raised while reading this file into a one-line error naming it."""
    deviations: dict[str, object] = field(default_factory=dict)
    prepare: Callable[[], None] | None = None
    """Runs just before the file is read, only when the load is not a no-op (e.g. a download)."""


@dataclass(frozen=True, slots=True)
class LoadRequest:
    source: str
    collector: str
    provider: str | None
    plans: Sequence[FilePlan]
    focus_version: str | None = None
    state: dict[str, str] = field(default_factory=dict)
    """Collector cursors (key → value) stored in ``collector_state`` in the load's own transaction."""


@dataclass(frozen=True, slots=True)
class UnitTotals:
    currency: str
    rows: int
    billed_cost: Decimal
    effective_cost: Decimal


@dataclass(frozen=True, slots=True)
class UnitResult:
    billing_period_start: datetime | None
    rows: int
    totals: tuple[UnitTotals, ...]
    replaces: int | None


@dataclass(frozen=True, slots=True)
class LoadResult:
    ingest_id: int | None
    status: Literal["loaded", "unchanged"]
    source: str
    units: tuple[UnitResult, ...]
    rows: int
    seconds: float
    deviations: dict[str, dict[str, object]]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def _now() -> datetime:
    return datetime.now(UTC)


def is_unchanged(conn: duckdb.DuckDBPyConnection, source: str, files: Sequence[SourceFile]) -> bool:
    """True when exactly these files were this source's last load and all its units are still loaded."""
    previous = conn.execute(
        sql.load("ledger/unchanged"), {"source": source, "fileset_sha256": fileset_sha256(list(files))}
    ).fetchall()
    return bool(previous) and all(status == "loaded" for _, status in previous)


def unchanged_result(source: str, seconds: float = 0.0) -> LoadResult:
    return LoadResult(None, "unchanged", source, (), 0, seconds, {})


def load(conn: duckdb.DuckDBPyConnection, request: LoadRequest, *, progress: Progress | None = None) -> LoadResult:
    """Load the request's files as one transaction (see module doc). Raises SpendscopeError."""
    started = time.perf_counter()
    files = [p.file for p in request.plans]
    seen: dict[str, str] = {}
    for f in files:
        if f.sha256 in seen:
            raise BadData(f"same content as {seen[f.sha256]}: one delivery would be counted twice", source=f.path)
        seen[f.sha256] = f.path
    fs_hash = fileset_sha256(files)
    if is_unchanged(conn, request.source, files):
        log.info("load unchanged source=%s files=%d", request.source, len(files))
        return unchanged_result(request.source, time.perf_counter() - started)

    row = conn.execute("SELECT nextval('ingest_id_seq')").fetchone()
    assert row is not None
    ingest_id = int(row[0])
    started_at = _now()
    try:
        deviations = _stage(conn, request, ingest_id, progress)
        with transaction(conn):
            units = _publish(conn, request, ingest_id, fs_hash, started_at, deviations)
    except SpendscopeError as exc:
        _record_failure(conn, request, ingest_id, fs_hash, started_at, str(exc))
        raise
    except duckdb.Error as exc:
        error = WarehouseError(f"load failed: {str(exc).splitlines()[0]}", source=request.source)
        _record_failure(conn, request, ingest_id, fs_hash, started_at, str(error))
        raise error from exc
    finally:
        _drop_staging(conn)
    rows = sum(u.rows for u in units)
    elapsed = time.perf_counter() - started
    log.info("loaded source=%s ingest_id=%d rows=%d seconds=%.2f", request.source, ingest_id, rows, elapsed)
    return LoadResult(
        ingest_id, "loaded", request.source, tuple(units), rows, elapsed, {k: v for k, v in deviations.items() if v}
    )


def _stage(
    conn: duckdb.DuckDBPyConnection, request: LoadRequest, ingest_id: int, progress: Progress | None
) -> dict[str, dict[str, object]]:
    """Insert the files into a fresh staging table, then check and normalize them; returns the deviations."""
    conn.execute(sql.load("staging/create"))
    total_bytes = sum(p.file.size for p in request.plans) or 1
    done_bytes = 0
    log.info("phase=insert ingest_id=%d files=%d", ingest_id, len(request.plans))
    for plan in request.plans:
        params = dict(plan.params, ingest_id=ingest_id, source_file=plan.file.path)
        statement = (
            f"INSERT INTO billing_staging BY NAME SELECT *, $ingest_id AS x_IngestId, "
            f"$source_file AS x_SourceFile FROM ({plan.select_sql})"
        )
        if plan.prepare is not None:
            plan.prepare()
        try:
            _execute_with_progress(conn, statement, params, plan.file, done_bytes, total_bytes, progress)
        except duckdb.Error as exc:
            raise plan.diagnose(conn, exc) from exc
        done_bytes += plan.file.size
        if progress:
            progress(plan.file.path, done_bytes / total_bytes)

    log.info("phase=checks ingest_id=%d", ingest_id)
    _run_checks(conn, ingest_id)
    deviations = {p.file.path: dict(p.deviations) for p in request.plans}
    load_deviations = _normalize(conn, ingest_id)
    if load_deviations:
        for file_dev in deviations.values():
            file_dev.update(load_deviations)
    for name in sql.names("deviations"):
        for source_file, deviation, n in conn.execute(sql.load(name), {"ingest_id": ingest_id}).fetchall():
            reported = deviations.setdefault(source_file, {}).setdefault("rows", {})
            assert isinstance(reported, dict)
            reported[deviation] = int(n)
    return deviations


def _publish(
    conn: duckdb.DuckDBPyConnection,
    request: LoadRequest,
    ingest_id: int,
    fs_hash: str,
    started_at: datetime,
    deviations: dict[str, dict[str, object]],
) -> list[UnitResult]:
    """Inside the load's transaction: replace the units, move the staged rows into billing, write the ledger."""
    log.info("phase=publish ingest_id=%d", ingest_id)
    units = _write_ledger(conn, request, ingest_id, fs_hash, started_at, deviations)
    conn.execute(sql.load("staging/publish"))
    for key, value in request.state.items():
        conn.execute("DELETE FROM collector_state WHERE source = $s AND key = $k", {"s": request.source, "k": key})
        conn.execute(
            "INSERT INTO collector_state VALUES ($s, $k, $v, $t)",
            {"s": request.source, "k": key, "v": value, "t": _now()},
        )
    log.info("phase=commit ingest_id=%d", ingest_id)
    return units


def _drop_staging(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.execute(sql.load("staging/drop"))
    except duckdb.Error as exc:  # dropped again at the next load or open
        log.warning("cannot drop the staging table: %s", str(exc).splitlines()[0])


def _execute_with_progress(
    conn: duckdb.DuckDBPyConnection,
    statement: str,
    params: dict[str, object],
    file: SourceFile,
    done_bytes: int,
    total_bytes: int,
    progress: Progress | None,
) -> None:
    if progress is None:
        conn.execute(statement, params)
        return
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.25):
            pct = conn.query_progress()
            if pct >= 0:
                progress(file.path, (done_bytes + file.size * min(pct, 100.0) / 100.0) / total_bytes)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        conn.execute(statement, params)
    finally:
        stop.set()
        poller.join()


def _run_checks(conn: duckdb.DuckDBPyConnection, ingest_id: int) -> None:
    for name in sql.names("checks"):
        bad = conn.execute(sql.load(name), {"ingest_id": ingest_id}).fetchmany(1)
        if bad:
            source_file, problem, n = bad[0]
            error = UnknownCurrency if name.endswith("unknown_currency") else BadData
            raise error(f"{problem} ({n} rows); nothing was loaded", source=source_file)


def _normalize(conn: duckdb.DuckDBPyConnection, ingest_id: int) -> dict[str, object]:
    case_fixed: dict[str, int] = {}
    disallowed: dict[str, dict[str, int]] = {}
    for column in ALLOWED_VALUES:
        params = {"ingest_id": ingest_id, "column": column}
        fixed = conn.execute(sql.load("normalize/allowed_value_case").format(column=column), params).fetchone()
        if fixed and fixed[0]:
            case_fixed[column] = int(fixed[0])
        rows = conn.execute(sql.load("normalize/disallowed_values").format(column=column), params).fetchall()
        if rows:
            disallowed[column] = {str(v): int(n) for v, n in rows}
    out: dict[str, object] = {}
    if case_fixed:
        out["values_case_normalized"] = case_fixed
    if disallowed:
        out["values_not_in_focus"] = disallowed
    return out


def _write_ledger(
    conn: duckdb.DuckDBPyConnection,
    request: LoadRequest,
    ingest_id: int,
    fs_hash: str,
    started_at: datetime,
    deviations: dict[str, dict[str, object]],
) -> list[UnitResult]:
    totals: dict[datetime, list[UnitTotals]] = defaultdict(list)
    for period, currency, n, billed, effective in conn.execute(
        sql.load("ledger/unit_totals"), {"ingest_id": ingest_id}
    ).fetchall():
        totals[period].append(UnitTotals(currency, int(n), billed, effective))
    files_by_period: dict[datetime, set[str]] = defaultdict(set)
    for period, path in conn.execute(sql.load("ledger/unit_files"), {"ingest_id": ingest_id}).fetchall():
        files_by_period[period].add(path)

    by_path = {p.file.path: p.file for p in request.plans}
    periods: list[datetime | None] = [*sorted(totals)] or [None]  # a valid file with no rows: one empty unit
    finished = _now()
    units = []
    for period in periods:
        replaces = None
        if period is not None:
            old = conn.execute(
                "SELECT ingest_id FROM ingests WHERE source = $s AND billing_period_start = $p AND status = 'loaded'",
                {"s": request.source, "p": period},
            ).fetchall()
            for (old_id,) in old:
                conn.execute(sql.load("ledger/replace_unit"), {"old_ingest_id": old_id, "period": period})
                conn.execute(
                    "UPDATE ingests SET status = 'replaced', replaced_by = $new "
                    "WHERE ingest_id = $old AND billing_period_start = $p",
                    {"new": ingest_id, "old": old_id, "p": period},
                )
                replaces = int(old_id)
        unit_paths = sorted(files_by_period.get(period, set())) if period else sorted(by_path)
        unit_files = [by_path[p].as_json() for p in unit_paths]
        unit_totals = totals.get(period, []) if period else []
        rows = sum(t.rows for t in unit_totals)
        unit_dev = {p: deviations[p] for p in unit_paths if deviations.get(p)}
        conn.execute(
            "INSERT INTO ingests (ingest_id, source, collector, provider, billing_period_start, status, files, "
            "fileset_sha256, row_count, focus_version, deviations, started_at, finished_at, replaces) "
            "VALUES ($id, $source, $collector, $provider, $period, 'loaded', $files, $fs, $rows, $version, "
            "$dev, $started, $finished, $replaces)",
            {
                "id": ingest_id,
                "source": request.source,
                "collector": request.collector,
                "provider": request.provider,
                "period": period,
                "files": json.dumps(unit_files),
                "fs": fs_hash,
                "rows": rows,
                "version": request.focus_version,
                "dev": json.dumps(unit_dev) if unit_dev else None,
                "started": started_at,
                "finished": finished,
                "replaces": replaces,
            },
        )
        for t in unit_totals:
            conn.execute(
                "INSERT INTO ingest_totals VALUES ($id, $p, $c, $n, $b, $e)",
                {"id": ingest_id, "p": period, "c": t.currency, "n": t.rows, "b": t.billed_cost, "e": t.effective_cost},
            )
        units.append(UnitResult(period, rows, tuple(unit_totals), replaces))
    return units


def _record_failure(
    conn: duckdb.DuckDBPyConnection,
    request: LoadRequest,
    ingest_id: int,
    fs_hash: str,
    started_at: datetime,
    error: str,
) -> None:
    record_failure(
        conn,
        source=request.source,
        collector=request.collector,
        provider=request.provider,
        error=error,
        files=[p.file for p in request.plans],
        ingest_id=ingest_id,
        fileset_sha256=fs_hash,
        started_at=started_at,
    )


def record_run(
    conn: duckdb.DuckDBPyConnection,
    *,
    source: str,
    collector: str,
    started_at: datetime,
    status: str = "failed",
    rows: int = 0,
    error: str | None = None,
) -> None:
    """One ``collector_runs`` row for a run of ``source`` (its own statement; never raises)."""
    try:
        conn.execute(
            "INSERT INTO collector_runs VALUES ($s, $c, $st, $r, $start, $fin, $e)",
            {
                "s": source,
                "c": collector,
                "st": status,
                "r": rows,
                "start": started_at,
                "fin": _now(),
                "e": error.splitlines()[0][:500] if error else None,
            },
        )
    except duckdb.Error as exc:  # the run's own outcome matters more than its telemetry
        log.warning("cannot record collector run source=%s: %s", source, str(exc).splitlines()[0])


def record_failure(
    conn: duckdb.DuckDBPyConnection,
    *,
    source: str,
    collector: str,
    provider: str | None,
    error: str,
    files: Sequence[SourceFile] = (),
    ingest_id: int | None = None,
    fileset_sha256: str | None = None,
    started_at: datetime | None = None,
) -> None:
    """Write a 'failed' ledger row in its own transaction (nothing of the load is in billing)."""
    try:
        if ingest_id is None:
            row = conn.execute("SELECT nextval('ingest_id_seq')").fetchone()
            assert row is not None
            ingest_id = int(row[0])
        conn.execute(
            "INSERT INTO ingests (ingest_id, source, collector, provider, status, files, fileset_sha256, "
            "started_at, finished_at, error) VALUES ($id, $s, $c, $p, 'failed', $f, $fs, $st, $fin, $e)",
            {
                "id": ingest_id,
                "s": source,
                "c": collector,
                "p": provider,
                "f": json.dumps([f.as_json() for f in files]),
                "fs": fileset_sha256,
                "st": started_at or _now(),
                "fin": _now(),
                "e": error,
            },
        )
    except duckdb.Error:
        log.exception("could not record failed load source=%s", source)


def collector_state(conn: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    """The cursors last committed for ``source`` (empty before its first load)."""
    rows = conn.execute("SELECT key, value FROM collector_state WHERE source = $s", {"s": source}).fetchall()
    return {str(k): str(v) for k, v in rows}
