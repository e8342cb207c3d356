"""``engine = "spark"``: ingest a [[sources]] entry by Spark normalize → daily rollup → pull into DuckDB.

Per ledger source and unit (a billing period's delivery, or a GCP file set): when the unit's input files
are unchanged since the last Spark load of the source (their fingerprint is stored with it in
``collector_state``) and its rows are still the loaded ones, nothing runs; otherwise the files are
normalized to FOCUS Parquet and rolled up per day (the changed units of a source in one Spark job), and
each billing period they carry is pulled as one load. The fingerprints are written with the last load, so
an interrupted run is redone next time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from spendscope.collectors.sources import AwsSource, AzureSource, GcpSource
from spendscope.errors import SpendscopeError
from spendscope.warehouse.load import LoadResult, collector_state, record_run, unchanged_result
from spendscope.warehouse.spark.normalize import NativeSource, NativeUnit, normalize
from spendscope.warehouse.spark.rollup import pull, write_rollup
from spendscope.warehouse.spark.settings import SparkSettings
from spendscope.warehouse.spark.sources import native_sources

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

__all__ = ["ingest_native", "ingest_source_config"]


def ingest_source_config(
    conn: duckdb.DuckDBPyConnection,
    cfg: AwsSource | AzureSource | GcpSource,
    settings: SparkSettings,
    *,
    spark: SparkSession | None = None,
) -> list[LoadResult]:
    """Ingest one [[sources]] entry through Spark; one LoadResult per unit loaded or found unchanged.

    Every ledger source's run is recorded in ``collector_runs``; the first failure is raised (SpendscopeError).
    """
    natives = native_sources(cfg)
    if spark is None:
        from spendscope.warehouse.spark.session import build_session

        spark = build_session(settings)
    results: list[LoadResult] = []
    for native in natives:
        started = datetime.now(UTC)
        try:
            loaded = ingest_native(conn, spark, native, settings)
        except SpendscopeError as exc:
            record_run(conn, source=native.source, collector="spark", started_at=started, error=str(exc))
            raise
        rows = sum(r.rows for r in loaded)
        status = "loaded" if any(r.status == "loaded" for r in loaded) else "unchanged"
        record_run(conn, source=native.source, collector="spark", started_at=started, status=status, rows=rows)
        results += loaded
    return results


def ingest_native(
    conn: duckdb.DuckDBPyConnection, spark: SparkSession, native: NativeSource, settings: SparkSettings
) -> list[LoadResult]:
    """Normalize, roll up and pull each changed unit of one ledger source (see module doc)."""
    state = collector_state(conn, native.source)
    results: list[LoadResult] = []
    changed: list[NativeUnit] = []
    for unit in native.units:
        if state.get(_key(unit)) == unit.fingerprint and _still_loaded(conn, native.source, unit):
            log.info("spark unit unchanged source=%s period=%s", native.source, unit.period)
            results.append(unchanged_result(native.source))
        else:
            changed.append(unit)
    if not changed:
        return results
    periods = normalize(spark, native, changed, location=settings.location)
    if not periods:
        log.warning("spark source has no rows source=%s", native.source)
        return results
    write_rollup(spark, native, periods, location=settings.location, keep_resource_ids=settings.keep_resource_ids)
    fingerprints = {_key(u): u.fingerprint for u in changed}
    for i, period in enumerate(periods):
        last = i == len(periods) - 1
        results.append(
            pull(spark, conn, native, period, location=settings.location, state=fingerprints if last else None)
        )
    return results


def _key(unit: NativeUnit) -> str:
    return f"spark_inputs:{unit.period or 'all'}"


def _still_loaded(conn: duckdb.DuckDBPyConnection, source: str, unit: NativeUnit) -> bool:
    """The source's loaded units all came from Spark (no DuckDB collector load replaced them since)."""
    params: dict[str, object] = {"s": source}
    where = "source = $s AND status = 'loaded'"
    if unit.period is not None:
        where += " AND strftime(billing_period_start AT TIME ZONE 'UTC', '%Y-%m') = $p"
        params["p"] = unit.period
    row = conn.execute(
        f"SELECT count(*) FILTER (WHERE collector = 'spark'), count(*) FILTER (WHERE collector <> 'spark') "
        f"FROM ingests WHERE {where}",
        params,
    ).fetchone()
    return row is not None and row[0] > 0 and row[1] == 0
