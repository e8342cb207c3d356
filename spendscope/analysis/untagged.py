"""Untagged spend: how much EffectiveCost misses the required tags, per currency, account, service, day.

``untagged_spend`` scans billing in SQL (``sql/analysis/untagged_charges.sql``, tag keys bound as
values) and shapes the result with the pure ``classify_charges`` / ``summarize_untagged``; it stores
nothing. ``run_untagged`` stores the classified spend per day, account, service and status
(``untagged_daily``) and the top offending resources per period (``untagged_resources``) for the
exporters and the report. Each charge gets one ``status``:

- ``untaggable``: its ChargeCategory or ServiceSubcategory is in the policy's untaggable lists (tax,
  credits, support …). These charges can carry no tags; they are reported apart and are never part
  of the denominator nor blamed on anyone;
- ``untagged``: none of the required keys has a non-empty value;
- ``mistagged``: some required key is missing, or a value is outside the key's allowed values;
- ``tagged``: every required key has an allowed value.

Keys match ignoring case (``Team`` satisfies ``team``); values are stripped and compared ignoring
case. Money is EffectiveCost, Decimal(38, 12), never summed across BillingCurrency; percentages are
floats in [0, 100] of the taggable EffectiveCost (null when that is zero).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spendscope import sql
from spendscope.exporters.focus_file import period_start
from spendscope.warehouse import analysis_runs

__all__ = [
    "TagPolicy",
    "TagStatus",
    "UntaggedResult",
    "classify_charges",
    "run_untagged",
    "stored_frames",
    "summarize_untagged",
    "untagged_spend",
]

log = logging.getLogger(__name__)

TagStatus = Literal["tagged", "untagged", "mistagged", "untaggable"]
MONEY = pl.Decimal(38, 12)


class TagPolicy(BaseModel):
    """The tags every taggable charge must carry.

    ``required_keys`` match tag keys ignoring case. ``allowed_values`` (key → values, both matched
    ignoring case) restricts a key's values; a key without an entry accepts any non-empty value.
    Charges whose ChargeCategory is in ``untaggable_charge_categories`` or whose ServiceSubcategory
    is in ``untaggable_service_subcategories`` (exact FOCUS values) cannot carry tags.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    required_keys: list[str] = Field(min_length=1, description='e.g. ["team", "env"]')
    allowed_values: dict[str, list[str]] = Field(default_factory=dict, description='e.g. {env = ["prod", "dev"]}')
    untaggable_charge_categories: list[str] = Field(default_factory=lambda: ["Tax", "Credit", "Adjustment"])
    untaggable_service_subcategories: list[str] = Field(default_factory=lambda: ["Support"])

    @field_validator("required_keys")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        if any(not k.strip() for k in keys):
            raise ValueError("tag keys must not be empty")
        folded = [k.strip().lower() for k in keys]
        if len(set(folded)) != len(folded):
            raise ValueError(f"required tag keys repeat ignoring case: {keys}")
        return keys

    @model_validator(mode="after")
    def _allowed_keys_required(self) -> TagPolicy:
        unknown = sorted(set(self.allowed_values_folded()) - set(self.keys()))
        if unknown:
            raise ValueError(f"allowed_values names keys that are not required: {', '.join(unknown)}")
        if any(not values for values in self.allowed_values.values()):
            raise ValueError("allowed_values lists must not be empty (omit the key to accept any value)")
        return self

    def keys(self) -> list[str]:
        """Required keys, stripped and lower-cased: the order of ``tag_values`` in the scan."""
        return [k.strip().lower() for k in self.required_keys]

    def allowed_values_folded(self) -> dict[str, set[str]]:
        return {k.strip().lower(): {v.strip().lower() for v in vs} for k, vs in self.allowed_values.items()}


def classify_charges(charges: pl.LazyFrame, policy: TagPolicy) -> pl.LazyFrame:
    """Add ``status`` (TagStatus) to rows of the scan (columns of untagged_charges.sql).

    ``tag_values`` is a list aligned with ``policy.keys()``.
    """
    allowed = policy.allowed_values_folded()
    present = []
    valid = []
    for i, key in enumerate(policy.keys()):
        value = pl.col("tag_values").list.get(i, null_on_oob=True).str.strip_chars()
        has = (value.is_not_null() & (value != "")).fill_null(False)
        ok = has if key not in allowed else has & value.str.to_lowercase().is_in(sorted(allowed[key])).fill_null(False)
        present.append(has)
        valid.append(ok)
    untaggable = pl.col("ChargeCategory").is_in(policy.untaggable_charge_categories).fill_null(False) | pl.col(
        "ServiceSubcategory"
    ).is_in(policy.untaggable_service_subcategories).fill_null(False)
    status = (
        pl.when(untaggable)
        .then(pl.lit("untaggable"))
        .when(~pl.any_horizontal(present))
        .then(pl.lit("untagged"))
        .when(pl.all_horizontal(valid))
        .then(pl.lit("tagged"))
        .otherwise(pl.lit("mistagged"))
    )
    return charges.with_columns(status=status)


def _compliance(classified: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Taggable EffectiveCost and its untagged / mistagged parts per ``by`` and currency."""
    cost = pl.col("EffectiveCost")
    status = pl.col("status")
    return (
        classified.filter(status != "untaggable")
        .group_by([*by, "currency"])
        .agg(
            cost.sum().alias("EffectiveCost"),
            cost.filter(status == "untagged").sum().alias("untagged_cost"),
            cost.filter(status == "mistagged").sum().alias("mistagged_cost"),
        )
        .with_columns(noncompliant_cost=pl.col("untagged_cost") + pl.col("mistagged_cost"))
        .with_columns(
            noncompliant_pct=pl.when(pl.col("EffectiveCost") != 0).then(
                pl.col("noncompliant_cost").cast(pl.Float64) / pl.col("EffectiveCost").cast(pl.Float64) * 100.0
            )
        )
        .with_columns(pl.col(c).cast(MONEY) for c in ("EffectiveCost", "untagged_cost", "mistagged_cost"))
        .with_columns(pl.col("noncompliant_cost").cast(MONEY))
        .sort([*by, "currency"], nulls_last=True)
    )


@dataclass(frozen=True)
class UntaggedResult:
    """Frames of the tag-compliance report; money is EffectiveCost per ``currency``.

    ``summary``, ``by_account_service`` and ``by_day`` have EffectiveCost (taggable only),
    untagged_cost, mistagged_cost, noncompliant_cost and noncompliant_pct.
    """

    summary: pl.DataFrame
    """One row per currency, plus ``untaggable_cost`` (reported apart, outside the denominator)."""
    by_account_service: pl.DataFrame
    """Per SubAccountId, ServiceName, currency."""
    by_day: pl.DataFrame
    """Per day (UTC date of ChargePeriodStart), currency."""
    top_resources: pl.DataFrame
    """Per currency, the ``top_n`` ResourceIds with the most noncompliant cost (largest first)."""
    untaggable: pl.DataFrame
    """Untaggable charges per ChargeCategory, ServiceSubcategory, ServiceName, currency."""


def summarize_untagged(charges: pl.LazyFrame, policy: TagPolicy, *, top_n: int = 20) -> UntaggedResult:
    """Shape the scan (columns of untagged_charges.sql) into the report; collects once per frame."""
    classified = classify_charges(charges, policy).cache()
    cost = pl.col("EffectiveCost")
    untaggable = (
        classified.filter(pl.col("status") == "untaggable")
        .group_by(["ChargeCategory", "ServiceSubcategory", "ServiceName", "currency"])
        .agg(cost.sum().cast(MONEY))
        .sort(["currency", "ChargeCategory", "ServiceSubcategory", "ServiceName"], nulls_last=True)
    )
    untaggable_totals = untaggable.group_by("currency").agg(cost.sum().cast(MONEY).alias("untaggable_cost"))
    summary = (
        _compliance(classified, [])
        .join(untaggable_totals, on="currency", how="full", coalesce=True)
        .with_columns(
            pl.col(c).fill_null(pl.lit(0).cast(MONEY))
            for c in ("EffectiveCost", "untagged_cost", "mistagged_cost", "noncompliant_cost", "untaggable_cost")
        )
        .sort("currency")
    )
    top = (
        classified.filter(pl.col("status").is_in(["untagged", "mistagged"]) & pl.col("ResourceId").is_not_null())
        .group_by(["ResourceId", "currency"])
        .agg(
            cost.sum().cast(MONEY).alias("noncompliant_cost"),
            pl.col("SubAccountId").drop_nulls().unique().sort().alias("SubAccountIds"),
            pl.col("ServiceName").drop_nulls().unique().sort().alias("ServiceNames"),
            pl.col("status").unique().sort().alias("statuses"),
        )
        .sort(["currency", "noncompliant_cost", "ResourceId"], descending=[False, True, False])
        .group_by("currency", maintain_order=True)
        .head(top_n)
    )
    frames = pl.collect_all(
        [
            summary,
            _compliance(classified, ["SubAccountId", "ServiceName"]),
            _compliance(classified, ["day"]),
            top,
            untaggable,
        ]
    )
    return UntaggedResult(*frames)


def _scan(conn: duckdb.DuckDBPyConnection, policy: TagPolicy, period: str | None) -> pl.DataFrame:
    params: dict[str, object] = {
        "period_start": period_start(period) if period else None,
        "keys": policy.keys(),
    }
    return conn.execute(sql.load("analysis/untagged_charges"), params).pl()


def untagged_spend(
    conn: duckdb.DuckDBPyConnection, policy: TagPolicy, *, period: str | None, top_n: int = 20
) -> UntaggedResult:
    """Tag compliance of one billing period ("YYYY-MM"), or of every period when None.

    Read-only: nothing is written to the warehouse.
    """
    charges = _scan(conn, policy, period)
    result = summarize_untagged(charges.lazy(), policy, top_n=top_n)
    log.info("untagged period=%s rows=%d currencies=%d", period or "all", charges.height, result.summary.height)
    return result


def stored_frames(charges: pl.LazyFrame, policy: TagPolicy, *, top_n: int = 20) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows ``run_untagged`` stores: (untagged_daily, untagged_resources).

    untagged_daily: EffectiveCost per billing_period_start, day, SubAccountId, ServiceName, currency
    and status (every status, so any ratio can be read back). untagged_resources: per period and
    currency, the ``top_n`` ResourceIds with the most untagged + mistagged cost, ranked from 1.
    """
    classified = classify_charges(charges, policy).cache()
    cost = pl.col("EffectiveCost")
    daily = (
        classified.group_by(["billing_period_start", "day", "SubAccountId", "ServiceName", "currency", "status"])
        .agg(cost.sum().cast(MONEY))
        .sort(["billing_period_start", "day", "SubAccountId", "ServiceName", "currency", "status"], nulls_last=True)
    )
    resources = (
        classified.filter(pl.col("status").is_in(["untagged", "mistagged"]) & pl.col("ResourceId").is_not_null())
        .group_by(["billing_period_start", "currency", "ResourceId"])
        .agg(
            cost.sum().cast(MONEY).alias("noncompliant_cost"),
            pl.col("SubAccountId").drop_nulls().unique().sort().alias("SubAccountIds"),
            pl.col("ServiceName").drop_nulls().unique().sort().alias("ServiceNames"),
            pl.col("status").unique().sort().alias("statuses"),
        )
        .sort(
            ["billing_period_start", "currency", "noncompliant_cost", "ResourceId"],
            descending=[False, False, True, False],
            nulls_last=True,
        )
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over(["billing_period_start", "currency"]))
        .filter(pl.col("rank") <= top_n)
    )
    daily_frame, resource_frame = pl.collect_all([daily, resources])
    return daily_frame, resource_frame


def run_untagged(
    conn: duckdb.DuckDBPyConnection, policy: TagPolicy, *, period: str | None = None, top_n: int = 20
) -> tuple[int, pl.DataFrame]:
    """Classify one billing period ("YYYY-MM"), or every period when None, and store the result.

    A rerun replaces the period's rows of ``untagged_daily`` and ``untagged_resources`` (every row
    when period is None) in one transaction, under one analysis run. Returns (run_id,
    untagged_daily rows written).
    """
    with analysis_runs.recorded_run(conn) as run_id:
        daily, resources = stored_frames(_scan(conn, policy, period).lazy(), policy, top_n=top_n)
        scope: str = "TRUE"
        params: dict[str, object] = {}
        if period is not None:
            scope, params = "billing_period_start = $p", {"p": period_start(period)}
        frames = {"untagged_daily": daily, "untagged_resources": resources}
        analysis_runs.replace_tables(conn, frames, run_id=run_id, scope=scope, params=params)
    log.info("untagged run_id=%d period=%s rows=%d", run_id, period or "all", daily.height)
    return run_id, daily
