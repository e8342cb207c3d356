"""The daily FOCUS rollup, computed in Spark from the FOCUS Parquet, and its pull into the local DuckDB.

Grain: one row per UTC day and every non-measure FOCUS column (account, service, region, SKU, tags,
commitment, unit prices, …): ChargePeriodStart is truncated to the UTC day, ChargePeriodEnd rounded up
to the next UTC midnight (a month-long charge keeps its month), and the measures (BilledCost,
EffectiveCost, ListCost, ContractedCost, PricingCurrencyEffectiveCost and the quantities) are summed —
exact DECIMAL(38, 12) sums, so every total equals the bill's to the last digit. Tags are kept whole, so
allocation, untagged and unit cost derive team, environment and service from them unchanged.
``keep_resource_ids=False`` nulls ResourceId/ResourceName for a bigger reduction (orphans and anomaly
drivers then lose their resource). Per-row lineage (``x_Extensions``) is not carried.

Written to ``<location>/rollup/billing_period=…/provider=…/source=…/`` (sorted files spread by day over a
fixed number of tasks, so an unchanged month rewrites byte-identical Parquet), then pulled through the
warehouse's normal load path: ``warehouse.load.load`` with the FOCUS collector's FilePlan for each file,
collector ``spark``, one load per (source, billing period) — transactional, ledgered, a re-run unchanged,
a restatement replacing the period. Analysis, exporters and reports then run on the warehouse as on any other load.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

import duckdb

from spendscope.collectors.focus import plan_file
from spendscope.errors import WarehouseError
from spendscope.focus import COLUMNS_BY_NAME
from spendscope.warehouse.files import SourceFile, describe_files, known_checksums
from spendscope.warehouse.load import FilePlan, LoadRequest, LoadResult, load
from spendscope.warehouse.spark.normalize import PROVIDER_SLUG, NativeSource, first_line, focus_root, spark_errors

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

MEASURES: Final = tuple(
    name for name, col in COLUMNS_BY_NAME.items() if col.type == "decimal" and not name.endswith("UnitPrice")
)
"""Summed: the costs and quantities. Unit prices are attributes of a row (grouped by, never summed)."""
DROPPED: Final = ("x_Extensions",)
PARTITIONS: Final = ("billing_period", "provider", "source")


def rollup_root(location: str) -> str:
    return location.rstrip("/") + "/rollup"


def daily_rollup(focus: DataFrame, *, keep_resource_ids: bool = True) -> DataFrame:
    """FOCUS rows → one row per UTC day and non-measure column values (see module doc). Lazy."""
    from pyspark.sql import functions as F

    start = F.date_trunc("DAY", F.col("ChargePeriodStart"))
    end_day = F.date_trunc("DAY", F.col("ChargePeriodEnd"))
    end = F.when(F.col("ChargePeriodEnd") == end_day, end_day).otherwise(end_day + F.expr("INTERVAL 1 DAY"))
    frame = focus.withColumn("ChargePeriodStart", start).withColumn("ChargePeriodEnd", end)
    if not keep_resource_ids:
        for col in ("ResourceId", "ResourceName"):
            if col in frame.columns:
                frame = frame.withColumn(col, F.lit(None).cast("string"))
    keys = [c for c in frame.columns if c not in MEASURES and c not in DROPPED]
    sums = [F.sum(c).alias(c) for c in frame.columns if c in MEASURES]
    return frame.groupBy(*keys).agg(*sums).select(*[c for c in frame.columns if c not in DROPPED])


def write_rollup(
    spark: SparkSession, native: NativeSource, periods: list[str], *, location: str, keep_resource_ids: bool
) -> None:
    """Roll up the FOCUS partitions of ``native`` for ``periods`` and overwrite their rollup partitions."""
    from pyspark.sql import functions as F

    slug = PROVIDER_SLUG[native.kind]
    paths = [f"{focus_root(location)}/billing_period={p}/provider={slug}/source={native.source_id}" for p in periods]
    try:
        focus = spark.read.option("basePath", focus_root(location)).parquet(*paths)
        rolled = daily_rollup(focus, keep_resource_ids=keep_resource_ids)
        order = [c for c in rolled.columns if c not in MEASURES and c not in PARTITIONS]
        # Files per (period, provider, source) are spread by day over a fixed number of tasks (not AQE-coalesced),
        # each sorted: the same month always yields byte-identical files, so an unchanged pull is a no-op.
        tasks = int(spark.conf.get("spark.sql.shuffle.partitions") or "200")
        (
            rolled.repartition(tasks, *[F.col(c) for c in (*PARTITIONS, "ChargePeriodStart")])
            .sortWithinPartitions(*order)
            .write.mode("overwrite")
            .partitionBy(*PARTITIONS)
            .parquet(rollup_root(location))
        )
    except spark_errors() as exc:
        raise WarehouseError(f"Spark could not write the daily rollup: {first_line(exc)}", source=paths[0]) from exc


def pull(
    spark: SparkSession,
    conn: duckdb.DuckDBPyConnection,
    native: NativeSource,
    period: str,
    *,
    location: str,
    state: dict[str, str] | None = None,
) -> LoadResult:
    """Load one (source, period) rollup into the warehouse through ``warehouse.load`` (see module doc).

    A local ``location`` is read in place; any other (s3a://, abfss://, dbfs:/, a Spark Connect server's
    disk) is fetched through Spark as Arrow into a temporary Parquet file first. ``state`` is stored in
    ``collector_state`` in the load's own transaction.
    """
    slug = PROVIDER_SLUG[native.kind]
    part = f"{rollup_root(location)}/billing_period={period}/provider={slug}/source={native.source_id}"
    with tempfile.TemporaryDirectory(prefix="spendscope-spark-") as tmp:
        local = Path(part)
        if "://" in location or not local.is_dir():
            local = _fetch(spark, part, Path(tmp))
        files = sorted(p for p in local.glob("*.parquet") if p.is_file())
        if not files:
            raise WarehouseError(f"no rollup files for {period}", source=part)
        described = describe_files(files, known_checksums(conn))
        planner = duckdb.connect()
        try:
            planner.execute("SET TimeZone = 'UTC'")
            plans = [_plan(planner, f) for f in described]
        finally:
            planner.close()
        request = LoadRequest(native.source, "spark", native.provider, plans, focus_version="1.2", state=state or {})
        return load(conn, request)


def _plan(planner: duckdb.DuckDBPyConnection, file: SourceFile) -> FilePlan:
    plan = plan_file(planner, file)
    return FilePlan(plan.file, plan.select_sql, plan.params, plan.diagnose, {**plan.deviations, "engine": "spark"})


def _fetch(spark: SparkSession, part: str, tmp: Path) -> Path:
    """The rollup partition at ``part`` as one local Parquet file (through Spark: works for any location)."""
    import pyarrow.parquet as pq

    try:
        table = spark.read.parquet(part).toArrow()
    except spark_errors() as exc:
        raise WarehouseError(f"Spark could not read the daily rollup: {first_line(exc)}", source=part) from exc
    target = tmp / "rollup"
    target.mkdir()
    pq.write_table(table.combine_chunks(), target / "part-00000.parquet")
    return target
