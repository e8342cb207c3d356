"""``spendscope spark explain --period YYYY-MM``: Spark's physical plans of the normalize and rollup steps.

For each Spark-run [[sources]] entry, the plan of mapping that period's native files to FOCUS (up to the
partitioned write) and of the daily rollup over those rows. Nothing is written: the plans are built from
the lazy DataFrames. What the plans show (the exchanges, i.e. what a cluster shuffles) is discussed in
bench/README.md.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from spendscope.collectors.sources import AwsSource, AzureSource, GcpSource
from spendscope.warehouse.spark.normalize import focus_frame
from spendscope.warehouse.spark.rollup import daily_rollup
from spendscope.warehouse.spark.sources import native_sources

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["explain_sources"]


def _physical(frame: DataFrame) -> str:
    """``frame.explain()``'s physical plan (it prints; classic and Spark Connect sessions alike)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        frame.explain()
    return buffer.getvalue().rstrip()


def explain_sources(spark: SparkSession, configs: Sequence[AwsSource | AzureSource | GcpSource], *, period: str) -> str:
    """The normalize and rollup plans of ``period`` for each configured source, as text."""
    from pyspark.sql import functions as F

    out: list[str] = []
    for cfg in configs:
        for native in native_sources(cfg):
            units = [u for u in native.units if u.period in (period, None)]
            if not units:
                out.append(f"== {native.source}: no delivery for {period} ==")
                continue
            focus = focus_frame(spark, native, units).where(F.col("billing_period") == period)
            out.append(f"== {native.source} {period}: normalize (native files -> FOCUS Parquet) ==")
            out.append(_physical(focus))  # written as it is: each task into its own files, no shuffle
            out.append(f"== {native.source} {period}: daily rollup (ingest reads these rows back from the Parquet) ==")
            out.append(_physical(daily_rollup(focus)))
    return "\n".join(out)
