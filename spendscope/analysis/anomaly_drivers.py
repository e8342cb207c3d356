"""Drivers of an anomaly: the dimension values whose change explains most of its excess cost.

Pure functions over Polars frames; ``spendscope.analysis.anomalies`` feeds them the breakdown of just
the anomalous series and days read from the warehouse.

For one anomaly (series, start .. last_day) and one value v of a driver dimension (ResourceId,
x_UsageType, ...), delta = Σ over the anomaly's days d of (cost of v on d − expected cost of v on d),
where the expected cost is the median of v's cost on the same weekday in the 4 weeks before the start
(a value absent then costs 0 there). Values are ranked by delta, largest first, keeping positive
deltas only, with one exception: a value of a more specific dimension (SPECIFICITY: a resource over
its usage type or SKU) whose delta is at least 1 − ``tolerance`` of a broader value's ranks just above
it, so the most specific explanation of the same money comes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import polars as pl

__all__ = ["DRIVER", "SPECIFICITY", "attach_drivers", "rank_drivers"]

SPECIFICITY = {
    "ResourceId": 6,
    "x_UsageType": 5,
    "SkuId": 4,
    "RegionId": 3,
    "SubAccountId": 2,
    "ServiceName": 1,
}
"""Rank of a FOCUS driver dimension, most specific highest; other dimensions rank 0."""

DRIVER = pl.Struct({"dimension": pl.String, "value": pl.String, "delta": pl.Float64})
_REFERENCE_WEEKS = 4


def rank_drivers(
    windows: pl.DataFrame,
    breakdown: pl.DataFrame,
    *,
    dimensions: Sequence[str],
    tolerance: float = 0.1,
    limit: int = 5,
) -> pl.DataFrame:
    """One row per anomaly of ``windows`` (anomaly_id, start, last_day) with ``drivers`` (list of DRIVER).

    Days listed in an optional ``recurring_days`` column (monthly bookings) are left out.

    ``breakdown`` has anomaly_id, day, the ``dimensions`` columns (String) and cost, covering at least
    the 4 weeks before each start through its last day; other days are ignored.
    """
    spans = (
        windows.select("anomaly_id", "start", "last_day")
        .with_columns(day=pl.date_ranges("start", "last_day"))
        .explode("day")
        .with_columns(k0=(pl.col("day") - pl.col("start")).dt.total_days() // 7 + 1)
    )
    if "recurring_days" in windows.columns:  # monthly bookings inside the anomaly are not its drivers
        booked = windows.select("anomaly_id", day="recurring_days").explode("day").drop_nulls()
        spans = spans.join(booked, on=["anomaly_id", "day"], how="anti")
    refs = spans.with_columns(week=pl.lit(list(range(_REFERENCE_WEEKS)))).explode("week")
    refs = refs.with_columns(ref_day=pl.col("day") - pl.duration(weeks=pl.col("k0") + pl.col("week")))
    lo = windows.select("anomaly_id", lo=pl.col("start") - timedelta(weeks=_REFERENCE_WEEKS + 1), hi="last_day")
    rows = (
        breakdown.join(lo, on="anomaly_id")
        .filter(pl.col("day").is_between(pl.col("lo"), pl.col("hi")))
        .drop("lo", "hi")
        .with_columns(pl.col("cost").cast(pl.Float64))
    )
    long = (
        rows.unpivot(on=list(dimensions), index=["anomaly_id", "day", "cost"], variable_name="dimension")
        .drop_nulls("value")
        .group_by("anomaly_id", "dimension", "value", "day")
        .agg(pl.col("cost").sum())
    )
    values = long.select("anomaly_id", "dimension", "value").unique()
    actual = (
        long.join(spans.select("anomaly_id", "day"), on=["anomaly_id", "day"], how="semi")
        .group_by("anomaly_id", "dimension", "value")
        .agg(actual=pl.col("cost").sum())
    )
    expected = (
        refs.select("anomaly_id", "day", "ref_day")
        .join(values, on="anomaly_id")
        .join(long.rename({"day": "ref_day"}), on=["anomaly_id", "dimension", "value", "ref_day"], how="left")
        .group_by("anomaly_id", "dimension", "value", "day")
        .agg(pl.col("cost").fill_null(0.0).median())
        .group_by("anomaly_id", "dimension", "value")
        .agg(expected=pl.col("cost").sum())
    )
    deltas = (
        values.join(actual, on=["anomaly_id", "dimension", "value"], how="left")
        .join(expected, on=["anomaly_id", "dimension", "value"], how="left")
        .select(
            "anomaly_id",
            "dimension",
            "value",
            delta=pl.col("actual").fill_null(0.0) - pl.col("expected").fill_null(0.0),
            specificity=pl.col("dimension").replace_strict(SPECIFICITY, default=0, return_dtype=pl.Int32),
        )
        .filter(pl.col("delta") > 0)
    )
    ranked = _promote(deltas, tolerance)
    out = (
        ranked.sort(
            ["anomaly_id", "key", "specificity", "delta", "dimension", "value"],
            descending=[False, True, True, True, False, False],
        )
        .group_by("anomaly_id", maintain_order=True)
        .head(limit)
        .group_by("anomaly_id", maintain_order=True)
        .agg(drivers=pl.struct("dimension", "value", "delta"))
    )
    return (
        windows.select("anomaly_id")
        .join(out, on="anomaly_id", how="left")
        .with_columns(pl.col("drivers").fill_null(pl.lit([], pl.List(DRIVER))))
    )


def _promote(deltas: pl.DataFrame, tolerance: float) -> pl.DataFrame:
    """Add ``key``: the delta, raised to the largest delta of a broader value it nearly equals."""
    broader = deltas.select("anomaly_id", other_delta="delta", other_specificity="specificity")
    lifted = (
        deltas.join(broader, on="anomaly_id")
        .filter(
            (pl.col("other_specificity") < pl.col("specificity"))
            & (pl.col("delta") >= (1 - tolerance) * pl.col("other_delta"))
        )
        .group_by("anomaly_id", "dimension", "value")
        .agg(lift=pl.col("other_delta").max())
    )
    return deltas.join(lifted, on=["anomaly_id", "dimension", "value"], how="left").with_columns(
        key=pl.max_horizontal("delta", "lift")
    )


def attach_drivers(
    detections: pl.DataFrame,
    breakdown: pl.DataFrame,
    *,
    keys: Sequence[str],
    dimensions: Sequence[str],
    tolerance: float = 0.1,
    limit: int = 5,
) -> pl.DataFrame:
    """``detections`` (series ``keys`` + currency, start, last_day) with a ``drivers`` column.

    ``breakdown`` has the same keys and currency, day, the ``dimensions`` and cost.
    """
    on = [*keys, "currency"]
    numbered = detections.with_row_index("anomaly_id")
    joined = breakdown.join(numbered.select("anomaly_id", *on), on=on, nulls_equal=True).select(
        "anomaly_id", "day", *dimensions, "cost"
    )
    drivers = rank_drivers(numbered, joined, dimensions=dimensions, tolerance=tolerance, limit=limit)
    return numbered.join(drivers, on="anomaly_id", how="left").sort("anomaly_id").drop("anomaly_id")
