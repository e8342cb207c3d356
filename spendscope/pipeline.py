"""Ingest: a collector's fetch, then the warehouse's load, with the ledger's cached checksums."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from spendscope.collectors import BillingSource
from spendscope.config import SourceConfig
from spendscope.errors import SpendscopeError
from spendscope.warehouse.files import SourceFile, describe_files, known_checksums
from spendscope.warehouse.load import (
    LoadResult,
    Progress,
    is_unchanged,
    load,
    record_failure,
    record_run,
    unchanged_result,
)


def ingest(
    conn: duckdb.DuckDBPyConnection,
    source: BillingSource,
    *,
    period: str | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    """Fetch from ``source`` and load it as one transaction (see warehouse.load).

    Every run, unchanged and failed ones too, is recorded in ``collector_runs`` (for freshness metrics).
    """
    started = datetime.now(UTC)
    try:
        result = _ingest(conn, source, period=period, progress=progress)
    except SpendscopeError as exc:
        record_run(conn, source=source.source, collector=source.collector, started_at=started, error=str(exc))
        raise
    record_run(
        conn,
        source=source.source,
        collector=source.collector,
        started_at=started,
        status=result.status,
        rows=result.rows,
    )
    return result


def _ingest(
    conn: duckdb.DuckDBPyConnection, source: BillingSource, *, period: str | None, progress: Progress | None
) -> LoadResult:
    known = known_checksums(conn)

    def describe(paths: list[Path]) -> list[SourceFile]:
        return describe_files(paths, known)

    listed = getattr(source, "list_files", None)
    if listed is not None and is_unchanged(conn, source.source, listed()):
        return unchanged_result(source.source)  # e.g. S3 ETags unchanged: nothing is downloaded
    try:
        try:
            request = source.fetch(period, describe=describe)
        except SpendscopeError as exc:
            record_failure(conn, source=source.source, collector=source.collector, provider=None, error=str(exc))
            raise
        return load(conn, request, progress=progress)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def source_from_config(cfg: SourceConfig) -> BillingSource:
    from spendscope.collectors.focus import FocusFiles

    return FocusFiles(cfg.paths, source=cfg.name)
