"""Pure Polars shaping of the report's frames: changes, top series, movers and budget burn paths.

No I/O; tested on hand-written frames. Money stays Decimal(38, 12) per currency and is never summed
across currencies; rankings that mix currencies compare *shares* of each currency's own spend.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

__all__ = [
    "BUDGET_COLUMNS",
    "budget_paths",
    "budget_table",
    "dimension_movers",
    "fold_series",
    "rank_movers",
    "with_change",
]

MONEY = pl.Decimal(38, 12)
DRIVERS = ("team", "account", "region")


def with_change(
    frame: pl.DataFrame, current: str = "EffectiveCost", previous: str = "previous_EffectiveCost"
) -> pl.DataFrame:
    """Add ``change`` (current − previous, Decimal) and ``change_pct`` (% of |previous|; null when it is 0)."""
    cur, prev = pl.col(current), pl.col(previous)
    return frame.with_columns(
        change=(cur - prev).cast(MONEY),
        change_pct=pl.when(prev != 0).then(
            (cur.cast(pl.Float64) - prev.cast(pl.Float64)) / prev.cast(pl.Float64).abs() * 100.0
        ),
    )


def fold_series(daily: pl.DataFrame, *, group: Sequence[str], top_n: int, value: str = "value") -> pl.DataFrame:
    """Keep the ``top_n`` values of each ``group`` (by total EffectiveCost, ties by name); sum the rest per
    day as ``other (N more)``. Columns kept: group, value, day, EffectiveCost (Float64, for charts)."""
    keys = [*group, value]
    ranked = (
        daily.group_by(keys)
        .agg(pl.col("EffectiveCost").sum().alias("total"))
        .sort([*group, "total", value], descending=[*([False] * len(group)), True, False], nulls_last=True)
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over(group), others=(pl.len() - top_n).over(group))
    )
    labelled = daily.join(ranked, on=keys, how="left", nulls_equal=True).with_columns(
        pl.when(pl.col("rank") <= top_n)
        .then(pl.col(value).fill_null("(none)"))
        .otherwise(pl.format("other ({} more)", pl.col("others")))
        .alias(value)
    )
    return (
        labelled.group_by([*group, value, "day"])
        .agg(pl.col("EffectiveCost").sum().cast(pl.Float64), pl.col("rank").min())
        .sort([*group, "rank", "day"])
        .drop("rank")
    )


def _share(change: pl.Expr, scale: pl.Expr) -> pl.Expr:
    return pl.when(scale != 0).then(change.cast(pl.Float64).abs() / scale.cast(pl.Float64)).otherwise(0.0)


def dimension_movers(totals: pl.DataFrame, *, n: int) -> pl.DataFrame:
    """The ``n`` values of each dimension (``dimension_totals`` rows) whose amortized cost changed most,
    as a share of their currency's spend in that dimension (largest of the two months), with_change added."""
    scale = pl.max_horizontal(
        pl.col("EffectiveCost").sum().over(["dimension", "currency"]),
        pl.col("previous_EffectiveCost").sum().over(["dimension", "currency"]),
    )
    return (
        with_change(totals)
        .filter(pl.col("change") != 0)
        .with_columns(share=_share(pl.col("change"), scale))
        .sort(["dimension", "share", "currency", "value"], descending=[False, True, False, False], nulls_last=True)
        .group_by("dimension", maintain_order=True)
        .head(n)
        .drop("share")
    )


def rank_movers(drivers: pl.DataFrame, *, n: int) -> pl.DataFrame:
    """The ``n`` services whose amortized cost changed most (``mover_drivers`` rows), ranked by the change
    as a share of their currency's total, each with its top driver per team, account and region: the value
    whose own change went furthest in the service's direction (``<driver>`` and ``<driver>_change``)."""
    totals = with_change(drivers.filter(pl.col("driver").is_null()).drop("driver", "value"))
    scale = pl.max_horizontal(
        pl.col("EffectiveCost").sum().over("currency"), pl.col("previous_EffectiveCost").sum().over("currency")
    )
    movers = (
        totals.filter(pl.col("change") != 0)
        .with_columns(share=_share(pl.col("change"), scale))
        .sort(["share", "currency", "service"], descending=[True, False, False], nulls_last=True)
        .head(n)
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32))
    )
    parts = with_change(drivers.filter(pl.col("driver").is_not_null()))
    for name in DRIVERS:
        best = (
            parts.filter(pl.col("driver") == name)
            .join(movers.select("service", "currency", sign=pl.col("change").sign()), on=["service", "currency"])
            .with_columns(directed=pl.col("change") * pl.col("sign"))
            .filter(pl.col("directed") > 0)
            .sort(["directed", "value"], descending=[True, False], nulls_last=True)
            .group_by(["service", "currency"], maintain_order=True)
            .first()
            .select("service", "currency", pl.col("value").alias(name), pl.col("change").alias(f"{name}_change"))
        )
        movers = movers.join(best, on=["service", "currency"], how="left", nulls_equal=True)
    return movers.drop("share").select("rank", pl.exclude("rank"))


BUDGET_COLUMNS = ["name", "scope", "scope_value", "currency", "amount"]


def _scope_match(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    return left.join(right, on=["scope", "scope_value", "currency"], how="left", nulls_equal=True)


def budget_table(
    budgets: pl.DataFrame,
    daily: pl.DataFrame,
    forecasts: pl.DataFrame,
    stored: pl.DataFrame,
    *,
    month_complete: bool,
) -> pl.DataFrame:
    """One row per budget (``budgets``: BUDGET_COLUMNS): actual (the month's EffectiveCost in scope so
    far), used_pct, the latest stored forecast of the scope (made_on, point, lo80, hi80) and the status.

    status: the stored ``budget_status`` of this month when the latest forecast run covered it (with its
    exhaustion_date); otherwise ``over`` (actual > amount), ``at_risk`` (forecast point > amount),
    ``no_data`` (no spend in scope) or ``ok``; a complete month has no forecast risk, only over or ok.
    """
    actual = daily.group_by(["scope", "scope_value", "currency"]).agg(pl.col("EffectiveCost").sum().alias("actual"))
    fc = forecasts.select(
        "scope",
        "scope_value",
        "currency",
        "made_on",
        pl.col("mtd_actual").alias("forecast_mtd"),
        "point",
        "lo80",
        "hi80",
    )
    table = _scope_match(_scope_match(budgets, actual), fc).join(
        stored.select("name", pl.col("status").alias("stored_status"), "exhaustion_date"), on="name", how="left"
    )
    amount, spent = pl.col("amount"), pl.col("actual").fill_null(Decimal(0)).cast(MONEY)
    derived = (
        pl.when(spent > amount)
        .then(pl.lit("over"))
        .when(pl.lit(not month_complete) & (pl.col("point") > amount).fill_null(False))
        .then(pl.lit("at_risk"))
        .when(pl.col("actual").is_null() & pl.col("point").is_null())
        .then(pl.lit("no_data"))
        .otherwise(pl.lit("ok"))
    )
    return table.with_columns(
        actual=spent,
        used_pct=pl.when(amount != 0).then(spent.cast(pl.Float64) / amount.cast(pl.Float64) * 100.0),
        status=pl.coalesce(pl.col("stored_status"), derived),
    ).select(
        *BUDGET_COLUMNS,
        "actual",
        "used_pct",
        "made_on",
        "forecast_mtd",
        "point",
        "lo80",
        "hi80",
        "status",
        "exhaustion_date",
    )


def budget_paths(table: pl.DataFrame, daily: pl.DataFrame, *, first_day: date, days: int) -> pl.DataFrame:
    """Burn chart rows per budget and day of the month (Float64, for charts): ``actual`` (cumulative, up to
    the last day with data), ``pace`` (amount × day / days) and, from the forecast's made_on to month
    end, ``point`` / ``lo80`` / ``hi80`` interpolated linearly from the actual before made_on to the
    month-end forecast (the model's daily path is not stored)."""
    calendar_days = pl.DataFrame({"day": [first_day + timedelta(days=i) for i in range(days)]})
    rows = []
    for b in table.iter_rows(named=True):
        spend = daily.filter(
            (pl.col("scope") == b["scope"])
            & pl.col("scope_value").eq_missing(pl.lit(b["scope_value"], pl.String))
            & (pl.col("currency") == b["currency"])
        ).select("day", pl.col("EffectiveCost").cast(pl.Float64))
        last = spend["day"].max()
        path = (
            calendar_days.join(spend, on="day", how="left")
            .sort("day")
            .with_columns(
                actual=pl.when(pl.col("day") <= last).then(pl.col("EffectiveCost").fill_null(0.0).cum_sum())
                if last is not None
                else pl.lit(None, pl.Float64),
                pace=float(b["amount"]) * (pl.int_range(1, pl.len() + 1) / days),
            )
            .drop("EffectiveCost")
        )
        path = path.with_columns(_band(b, first_day, days))
        rows.append(path.with_columns(name=pl.lit(b["name"]), amount=pl.lit(float(b["amount"]))))
    if not rows:
        schema = {"day": pl.Date, "actual": pl.Float64, "pace": pl.Float64, "point": pl.Float64}
        schema |= {"lo80": pl.Float64, "hi80": pl.Float64, "name": pl.String, "amount": pl.Float64}
        return pl.DataFrame(schema=schema)
    return pl.concat(rows, how="vertical_relaxed")


def _band(b: dict[str, object], first_day: date, days: int) -> list[pl.Expr]:
    made_on, mtd = b["made_on"], b["forecast_mtd"]
    if not isinstance(made_on, date) or not isinstance(mtd, Decimal) or not 0 <= (made_on - first_day).days < days:
        return [pl.lit(None, pl.Float64).alias(c) for c in ("point", "lo80", "hi80")]
    start = (made_on - first_day).days - 1  # day index of the forecast's last actual day (−1: none)
    index = pl.int_range(pl.len())
    t = (index - start) / (days - 1 - start)
    return [
        pl.when(index >= max(start, 0)).then(float(mtd) + t * (float(b[c]) - float(mtd))).alias(c)  # type: ignore[arg-type]
        for c in ("point", "lo80", "hi80")
    ]
