"""The daily series a month-end forecast models, prepared from allocated_daily rows: pure Polars.

Every frame here has KEYS (scope, scope_value, currency) and day; scope_value is NULL for the
total, and joins treat NULL keys as equal. See ``spendscope.analysis.forecast`` for the method.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

__all__ = ["KEYS", "MONEY", "OUTLIER_K", "clean_outliers", "fill_days", "join_keys", "split_month_level"]

KEYS = ["scope", "scope_value", "currency"]
MONEY = pl.Decimal(38, 12)
OUTLIER_K = 4.0
"""``clean_outliers``' threshold in robust standard deviations; 0 turns the cleaning off."""
DAILY_SCHEMA = {"scope": pl.String, "scope_value": pl.String, "currency": pl.String, "day": pl.Date}


def join_keys(left: pl.DataFrame, right: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """Left join on ``on`` with NULL keys equal (the total's scope_value is NULL)."""
    return left.join(right, on=on, how="left", nulls_equal=True)


def fill_days(daily: pl.DataFrame, *, as_of: date) -> pl.DataFrame:
    """KEYS, day, cost (Decimal; 0 on days without rows) and y (Float64), oldest first.

    ``daily`` has KEYS, day and EffectiveCost; rows on or after ``as_of`` are dropped. Each series
    runs from its first day to as_of − 1 (a series that stopped keeps its zero days).
    """
    seen = daily.filter(pl.col("day") < as_of)
    if seen.is_empty():
        return pl.DataFrame(schema={**DAILY_SCHEMA, "cost": MONEY, "y": pl.Float64})
    last = as_of - timedelta(days=1)
    grid = (
        seen.group_by(KEYS)
        .agg(pl.col("day").min().alias("first"))
        .select(*KEYS, day=pl.date_ranges("first", pl.lit(last), "1d"))
        .explode("day")
    )
    cost = seen.group_by([*KEYS, "day"]).agg(pl.col("EffectiveCost").sum().cast(MONEY).alias("cost"))
    return (
        join_keys(grid, cost, [*KEYS, "day"])
        .with_columns(pl.col("cost").fill_null(pl.lit(0).cast(MONEY)))
        .with_columns(y=pl.col("cost").cast(pl.Float64))
        .sort([*KEYS, "day"], nulls_last=False)
    )


def split_month_level(filled: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(model input, lumps): day 1 of each month replaced by its baseline, and each month's lump.

    Baseline of day 1 = the same weekday a week later, else a week earlier, else day 1 itself;
    lump = day 1 − baseline (Decimal; may be negative: credits). Lumps: KEYS, month, lump.
    """
    week = timedelta(days=7)
    later = filled.select(*KEYS, day=pl.col("day") - week, later=pl.col("cost"))
    earlier = filled.select(*KEYS, day=pl.col("day") + week, earlier=pl.col("cost"))
    firsts = (
        join_keys(join_keys(filled.filter(pl.col("day").dt.day() == 1), later, [*KEYS, "day"]), earlier, [*KEYS, "day"])
        .with_columns(baseline=pl.coalesce("later", "earlier", "cost"))
        .select(*KEYS, "day", "baseline", lump=pl.col("cost") - pl.col("baseline"))
    )
    model_input = (
        join_keys(filled, firsts.select(*KEYS, "day", "baseline"), [*KEYS, "day"])
        .with_columns(y=pl.coalesce("baseline", "cost").cast(pl.Float64))
        .drop("baseline")
    )
    return model_input, firsts.select(*KEYS, month=pl.col("day"), lump=pl.col("lump").cast(MONEY))


def clean_outliers(model_input: pl.DataFrame, *, k: float = OUTLIER_K, passes: int = 2) -> pl.DataFrame:
    """Replace one-off spikes in ``y`` (KEYS, day, y) by their neighbourhood's level, per series.

    The weekly pattern is taken out first (each weekday's median deviation from the centred 7-day
    median); then a day is a spike when it is more than ``k`` robust standard deviations (1.4826 ×
    the series' median absolute deviation), and more than 2 % of the level, away from the median of
    the 7 days centred on it, and is replaced by that median. The window is cut at the ends, so the
    last days are judged against the days before them; a second pass catches a two-day spike there,
    whose first pass median is half spike. A level shift counts once it has lasted about half a week
    (until then it cannot be told from a spike). Adds ``y_raw`` (the input ``y``).
    """
    y = pl.col("y")
    frame = model_input.sort([*KEYS, "day"], nulls_last=False).with_columns(y_raw=y)
    frame = frame.with_columns(_wd=pl.col("day").dt.weekday(), _dev=y - y.rolling_median(7, center=True).over(KEYS))
    frame = frame.with_columns(_season=pl.col("_dev").median().over([*KEYS, "_wd"]).fill_null(0.0))
    frame = frame.with_columns(_z=y - pl.col("_season"))
    for _ in range(passes):
        frame = frame.with_columns(_ref=pl.col("_z").rolling_median(7, center=True, min_samples=1).over(KEYS))
        resid = pl.col("_z") - pl.col("_ref")
        limit = pl.max_horizontal(k * 1.4826 * resid.abs().median().over(KEYS), 0.02 * pl.col("_ref").abs())
        spike = (resid.abs() > limit).fill_null(False)
        frame = frame.with_columns(_z=pl.when(spike).then(pl.col("_ref")).otherwise(pl.col("_z")))
    return frame.with_columns(y=pl.col("_z") + pl.col("_season")).drop("_wd", "_dev", "_season", "_z", "_ref")
