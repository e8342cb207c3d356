"""Splitting one shared-cost rule's charges across teams, exactly (part of spendscope.analysis.allocation)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from spendscope.analysis.allocation import SharedCost

MONEY_COLUMNS = ("BilledCost", "EffectiveCost")
_MONEY = pl.Decimal(38, 12)


def split_shared(direct: pl.LazyFrame, charges: pl.LazyFrame, rule: SharedCost, *, unallocated: str) -> pl.LazyFrame:
    """Each charge row becomes one row per recipient team, with ``shared`` true.

    Recipients and weights come from ``rule`` (see SharedCost) and, for proportional and even,
    from ``direct`` (rows with a resolved ``team``) in the charge's billing period, currency and,
    with scope "provider", provider. Each share is amount × weight / Σ weights in Decimal; the
    rounding remainder goes to the largest weight, so every charge row's money is conserved exactly.
    A charge without recipients keeps one row in the ``unallocated`` team.
    """
    scope = ["billing_period_start", "currency"] + (["provider"] if rule.scope == "provider" else [])
    if rule.method == "fixed":
        weights = pl.LazyFrame(
            {"team": list(rule.weights), "_weight": list(rule.weights.values())},
            schema={"team": pl.String, "_weight": _MONEY},
        )
        targets = charges.select(scope).unique().join(weights, how="cross")
    else:
        basis = direct.filter(pl.col("team") != unallocated)
        if rule.teams is not None:
            basis = basis.filter(pl.col("team").is_in(rule.teams))
        targets = basis.group_by([*scope, "team"]).agg(_weight=pl.col(rule.basis).sum().cast(_MONEY))
        if rule.method == "proportional":
            targets = targets.filter(pl.col("_weight") > 0)
        else:
            targets = targets.with_columns(_weight=pl.lit(Decimal(1), _MONEY))
    split = (
        charges.drop("team")
        .with_row_index("_sid")
        .join(targets, on=scope, how="left", nulls_equal=True)
        .with_columns(
            team=pl.col("team").fill_null(unallocated),
            _weight=pl.col("_weight").fill_null(pl.lit(Decimal(1), _MONEY)),
        )
        .sort(["_sid", "_weight", "team"], descending=[False, True, False])
    )
    total = pl.col("_weight").sum().over("_sid")
    first = pl.int_range(pl.len()).over("_sid") == 0
    split = split.with_columns(
        **{f"_share_{m}": (pl.col(m) * pl.col("_weight") / total).cast(_MONEY) for m in MONEY_COLUMNS}
    )
    remainder = {
        m: pl.col(f"_share_{m}")
        + pl.when(first)
        .then(pl.col(m) - pl.col(f"_share_{m}").sum().over("_sid"))
        .otherwise(pl.lit(Decimal(0), _MONEY))
        for m in MONEY_COLUMNS
    }
    return split.with_columns(**remainder).with_columns(shared=pl.lit(True))
