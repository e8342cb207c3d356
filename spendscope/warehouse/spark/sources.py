"""Which native files Spark reads for a ``[[sources]]`` entry: the DuckDB collectors' discovery, reused.

AWS: the CUR manifests name the latest delivery per billing period (``collectors.aws.s3``). Azure: the
latest FocusCost run per period, else the latest actual and amortized runs, combined by role
(``collectors.azure.exports``). GCP: every Parquet/JSONL export copy under the location, as one unit
(a file can carry several invoice months). Listing is the collectors' own (boto3, Blob, GCS, or a local
directory); nothing is downloaded. Spark reads local paths in place and ``s3://`` objects as ``s3a://``
(hadoop-aws on the cluster); Azure Blob and GCS locations need their Hadoop connectors and are kept on
DuckDB here (``spark_readable``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeGuard

from spendscope.collectors.sources import AwsSource, AzureSource, GcpSource
from spendscope.errors import ConfigError
from spendscope.warehouse.spark.normalize import NativeFile, NativeSource, NativeUnit

if TYPE_CHECKING:
    from spendscope.collectors.stores import Store

__all__ = ["native_sources", "spark_readable"]


def spark_readable(cfg: object) -> TypeGuard[AwsSource | AzureSource | GcpSource]:
    """True for the [[sources]] entries this engine runs through Spark (aws/azure/gcp files it can read)."""
    if isinstance(cfg, AwsSource):
        return "://" not in cfg.location or cfg.location.startswith("s3://")
    if isinstance(cfg, (AzureSource, GcpSource)):
        return "://" not in cfg.location
    return False


def _spark_uri(store: Store, key: str) -> str:
    uri = store.uri(key)
    return "s3a://" + uri[5:] if uri.startswith("s3://") else uri


def native_sources(cfg: AwsSource | AzureSource | GcpSource) -> list[NativeSource]:
    """The Spark inputs of one [[sources]] entry (CollectorError from listing, naming the call)."""
    if not spark_readable(cfg):
        raise ConfigError(f"source {cfg.name!r}: Spark cannot read {cfg.location!r} here", source=cfg.location)
    if isinstance(cfg, AwsSource):
        from spendscope.collectors.aws.s3 import aws_sources

        out = []
        for cur in aws_sources(cfg.location, endpoint_url=cfg.endpoint_url, period=cfg.period):
            deliveries = tuple(
                NativeUnit(
                    d.period,
                    tuple(
                        NativeFile(_spark_uri(cur.store, o.key), cur.store.uri(o.key), f"{o.size}:{o.etag}")
                        for o in d.data
                    ),
                )
                for d in cur.deliveries
            )
            out.append(NativeSource(cur.source, "aws_cur", "AWS", deliveries))
        return out
    if isinstance(cfg, AzureSource):
        from spendscope.collectors.azure.exports import azure_sources

        out = []
        for scope in azure_sources(cfg.location, period=cfg.period):
            by_period: dict[str, list[NativeFile]] = {}
            for period, run, role in scope.chosen():  # the DuckDB collector's choice of runs and roles
                by_period.setdefault(period, []).extend(
                    NativeFile(
                        _spark_uri(scope.store, b.key), scope.store.uri(b.key), f"{b.size}:{b.etag}", role or "focus"
                    )
                    for b in run.data
                )
            units = [NativeUnit(period, tuple(files)) for period, files in sorted(by_period.items())]
            out.append(NativeSource(scope.source, "azure_cost", "Microsoft", tuple(units)))
        return out
    from spendscope.collectors.gcp.billing import gcp_sources

    out = []
    for export in gcp_sources(cfg.location, period=cfg.period):
        copies = tuple(NativeFile(f.path, f.path, f.sha256) for f in export.list_files())
        out.append(NativeSource(export.source, "gcp_export", "Google Cloud", (NativeUnit(None, copies),)))
    return out
