"""Ingest: a collector's fetch, then the warehouse's load, with the ledger's cached checksums."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from spendscope.collectors import BillingSource
from spendscope.collectors.network import NetworkSettings
from spendscope.collectors.sources import AwsSource, AzureSource
from spendscope.config import AzureSettings, FocusSource, SourceConfig
from spendscope.errors import ConfigError, SpendscopeError
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
    """The collector of a FOCUS-files entry (the other kinds can be several sources: see sources_from_config)."""
    from spendscope.collectors.focus import FocusFiles

    if not isinstance(cfg, FocusSource):
        raise ConfigError(f"source {cfg.name!r} is a {cfg.collector} source; use sources_from_config")
    return FocusFiles(cfg.paths, source=cfg.name)


def sources_from_config(
    conn: duckdb.DuckDBPyConnection,
    cfg: SourceConfig,
    *,
    azure: AzureSettings | None = None,
    network: NetworkSettings | None = None,
) -> list[BillingSource]:
    """The billing sources of one [[sources]] entry, built as `spendscope ingest focus|aws|azure|gcp` builds them.

    An aws, azure or gcp location can hold several reports, scopes or tables: one ledger source each.
    Listing them is a cloud call (CollectorError, Throttled, CredentialsExpired name it). ``conn`` gives the
    BigQuery reader its cursor (collector_state); ``azure`` holds the Blob connection string for az:// URLs;
    ``network`` the timeouts and retries of the S3, Blob and GCS clients (config's defaults when None).
    """
    if isinstance(cfg, FocusSource):
        return [source_from_config(cfg)]
    if isinstance(cfg, AwsSource):
        from spendscope.collectors.aws.s3 import aws_sources

        return list(aws_sources(cfg.location, endpoint_url=cfg.endpoint_url, period=cfg.period, network=network))
    if isinstance(cfg, AzureSource):
        from spendscope.collectors.azure.exports import azure_sources

        secret = azure.connection_string if azure else None
        return list(
            azure_sources(
                cfg.location,
                period=cfg.period,
                connection_string=secret.get_secret_value() if secret else None,
                network=network,
            )
        )
    from spendscope.collectors.gcp.billing import gcp_sources
    from spendscope.warehouse.load import collector_state

    return list(
        gcp_sources(cfg.location, period=cfg.period, cursor=lambda name: collector_state(conn, name), network=network)
    )
