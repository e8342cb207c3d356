"""Cost allocation: cost per team / environment / service / account / region / day, billed and amortized.

``run_allocation`` aggregates billing in SQL (``sql/analysis/allocation_daily.sql``), hands the
frame to the pure ``allocate`` (see ``spendscope.analysis.allocation_split``) and replaces the
``allocated_daily`` rows of the periods it computed in one transaction, under one analysis run.

Rules are effective-dated: ``AllocationRules.rule_sets`` each apply to charge days in
``[valid_from, valid_to)``; days no rule set covers are kept, in the ``unallocated`` bucket.
Money is Decimal(38, 12) throughout and never summed across BillingCurrency.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spendscope import sql
from spendscope.analysis import fx
from spendscope.analysis.allocation_split import split_shared
from spendscope.errors import ConfigError
from spendscope.exporters.focus_file import period_start
from spendscope.warehouse import analysis_runs

__all__ = [
    "AllocationResult",
    "AllocationRules",
    "Dimension",
    "ResourceRule",
    "RuleSet",
    "SharedCost",
    "allocate",
    "daily_costs",
    "run_allocation",
]

log = logging.getLogger(__name__)

# The value of the first tag whose key equals $tagN ignoring case; the key is bound, never spliced.
_TAG_VALUE = (
    "json_extract_string(Tags, '/' || replace(replace("
    "list_filter(json_keys(Tags), k -> lower(k) = $tag{i})[1], '~', '~0'), '/', '~1')) AS tag{i}"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dimension(_Strict):
    """Where a dimension's value comes from in the Tags column.

    ``tag_keys`` are tried in order (the first key holding a non-empty value wins) and are matched
    case-insensitively: ``team`` also finds ``Team``; list ``owner`` to accept it as an alias.
    Values are stripped and, with ``fold_case``, lower-cased (``Prod`` → ``prod``) before
    ``value_aliases`` (keys written folded) map them to a canonical value.
    """

    tag_keys: list[str] = Field(default_factory=list, description="tag keys in precedence order, aliases last")
    fold_case: bool = True
    value_aliases: dict[str, str] = Field(default_factory=dict, description="e.g. {production = 'prod'}")

    @field_validator("tag_keys")
    @classmethod
    def _non_empty_keys(cls, keys: list[str]) -> list[str]:
        if any(not k.strip() for k in keys):
            raise ValueError("tag keys must not be empty")
        return keys


class ResourceRule(_Strict):
    """A regular expression (RE2 syntax, searched, not anchored) on ResourceName or ResourceId."""

    field: Literal["ResourceName", "ResourceId"] = "ResourceName"
    pattern: str = Field(min_length=1)
    team: str | None = None
    environment: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern {pattern!r} is not a regular expression: {exc}") from None
        return pattern

    @model_validator(mode="after")
    def _sets_something(self) -> ResourceRule:
        if self.team is None and self.environment is None:
            raise ValueError(f"resource rule {self.pattern!r} sets neither team nor environment")
        return self


class SharedCost(_Strict):
    """Charges split across teams instead of allocated directly (support, shared networking, untaggable).

    A charge is shared when it matches any of the lists. ``method``: ``proportional`` to each
    team's direct ``basis`` cost, ``even`` over the teams with direct cost, or ``fixed`` ``weights``.
    Direct cost is taken in the same billing period and currency, and with ``scope = "provider"``
    the same provider. ``teams`` restricts the recipients (proportional, even). A charge with no
    recipient goes to the unallocated bucket. Amounts are split exactly: the rounding remainder
    goes to the recipient with the largest weight.
    """

    name: str = Field(min_length=1)
    service_names: list[str] = Field(default_factory=list)
    service_categories: list[str] = Field(default_factory=list)
    service_subcategories: list[str] = Field(default_factory=list)
    charge_categories: list[str] = Field(default_factory=list)
    method: Literal["proportional", "even", "fixed"] = "proportional"
    basis: Literal["EffectiveCost", "BilledCost"] = "EffectiveCost"
    scope: Literal["provider", "all"] = "provider"
    teams: list[str] | None = None
    weights: dict[str, Decimal] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> SharedCost:
        if not (self.service_names or self.service_categories or self.service_subcategories or self.charge_categories):
            raise ValueError(f"shared cost {self.name!r} selects nothing: give service_names or another list")
        if self.method == "fixed":
            if not self.weights or any(w <= 0 for w in self.weights.values()):
                raise ValueError(f"shared cost {self.name!r}: method 'fixed' needs positive weights per team")
        elif self.weights:
            raise ValueError(f"shared cost {self.name!r}: weights are only for method 'fixed'")
        return self


class RuleSet(_Strict):
    """The rules that apply to charge days in ``[valid_from, valid_to)`` (``valid_to`` None: open)."""

    valid_from: date = date(1970, 1, 1)
    valid_to: date | None = None
    team: Dimension = Field(default_factory=lambda: Dimension(tag_keys=["team"]))
    environment: Dimension = Field(default_factory=lambda: Dimension(tag_keys=["env", "environment"]))
    account_teams: dict[str, str] = Field(
        default_factory=dict,
        description="SubAccountId (AWS account, Azure subscription, GCP project) or BillingAccountId → team",
    )
    account_environments: dict[str, str] = Field(default_factory=dict)
    resource_rules: list[ResourceRule] = Field(default_factory=list)
    shared: list[SharedCost] = Field(default_factory=list)

    @model_validator(mode="after")
    def _dates(self) -> RuleSet:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError(f"rule set valid_to {self.valid_to} is not after valid_from {self.valid_from}")
        return self

    def covers(self, day: pl.Expr) -> pl.Expr:
        inside = day >= self.valid_from
        if self.valid_to is not None:
            inside = inside & (day < self.valid_to)
        return inside.fill_null(False)


class AllocationRules(_Strict):
    """Effective-dated allocation rules; rule sets must not overlap."""

    unallocated: str = Field(default="unallocated", min_length=1)
    rule_sets: list[RuleSet] = Field(default_factory=lambda: [RuleSet()])

    @model_validator(mode="after")
    def _no_overlap(self) -> AllocationRules:
        ordered = sorted(self.rule_sets, key=lambda r: r.valid_from)
        for a, b in itertools.pairwise(ordered):
            if a.valid_to is None or a.valid_to > b.valid_from:
                raise ValueError(f"rule sets overlap: one from {a.valid_from}, one from {b.valid_from}")
        return self

    def tag_keys(self) -> list[str]:
        """Every configured tag key, folded, once: the ``tag:<key>`` columns ``allocate`` reads."""
        keys = [k.strip().lower() for rs in self.rule_sets for d in (rs.team, rs.environment) for k in d.tag_keys]
        return list(dict.fromkeys(keys))

    def resource_rules(self) -> list[tuple[RuleSet, ResourceRule]]:
        """All resource rules with their rule set; ``resource_rule`` in the daily frame indexes this list."""
        return [(rs, rule) for rs in self.rule_sets for rule in rs.resource_rules]


MONEY = pl.Decimal(38, 12)
GRAIN = [
    "billing_period_start",
    "day",
    "provider",
    "account",
    "sub_account",
    "service",
    "service_category",
    "region",
    "team",
    "environment",
    "currency",
]
OUTPUT_COLUMNS = [*GRAIN, "BilledCost", "EffectiveCost", "shared"]
"""Columns of ``allocate``'s result and of the ``allocated_daily`` table (without run_id)."""


def allocate(daily: pl.LazyFrame, rules: AllocationRules) -> pl.LazyFrame:
    """Resolve team and environment per row, split shared costs, and sum to OUTPUT_COLUMNS.

    ``daily`` has the columns of ``daily_costs``: billing_period_start, day (Date), provider,
    account, sub_account, service, service_category, service_subcategory, charge_category, region,
    currency, BilledCost and EffectiveCost (Decimal), ``tag:<key>`` for each of
    ``rules.tag_keys()``, and resource_rule (index into ``rules.resource_rules()`` or null).

    Resolution order per dimension: tags (keys in order) → account map → resource rule →
    ``rules.unallocated``. Every input row lands in some team; money per currency and day is
    conserved exactly (``shared`` marks rows that came from a shared-cost split).
    """
    parts = []
    covered = pl.lit(False)
    for rs in rules.rule_sets:
        parts.append(_allocate_rule_set(daily.filter(rs.covers(pl.col("day"))), rs, rules))
        covered = covered | rs.covers(pl.col("day"))
    gap = RuleSet(team=Dimension(), environment=Dimension())
    parts.append(_allocate_rule_set(daily.filter(~covered), gap, rules))
    return (
        pl.concat(parts, how="vertical")
        .group_by([*GRAIN, "shared"])
        .agg(pl.col("BilledCost").sum(), pl.col("EffectiveCost").sum())
        .select(OUTPUT_COLUMNS)
        .sort([*GRAIN, "shared"], nulls_last=True)
    )


def _allocate_rule_set(daily: pl.LazyFrame, rs: RuleSet, rules: AllocationRules) -> pl.LazyFrame:
    by_rule = [(i, rule) for i, (owner, rule) in enumerate(rules.resource_rules()) if owner is rs]
    frame = daily.with_columns(
        team=_dimension(
            rs.team, rs.account_teams, {i: r.team for i, r in by_rule if r.team}, unallocated=rules.unallocated
        ),
        environment=_dimension(
            rs.environment,
            rs.account_environments,
            {i: r.environment for i, r in by_rule if r.environment},
            unallocated=rules.unallocated,
        ),
        _shared_rule=_shared_rule(rs.shared),
    )
    direct = frame.filter(pl.col("_shared_rule").is_null()).with_columns(shared=pl.lit(False))
    parts = [direct.select(OUTPUT_COLUMNS)]
    for i, rule in enumerate(rs.shared):
        charges = frame.filter(pl.col("_shared_rule") == i)
        parts.append(split_shared(direct, charges, rule, unallocated=rules.unallocated).select(OUTPUT_COLUMNS))
    return pl.concat(parts, how="vertical")


def _dimension(dim: Dimension, accounts: dict[str, str], by_rule: dict[int, str], *, unallocated: str) -> pl.Expr:
    candidates = []
    for key in dim.tag_keys:
        value = pl.col(f"tag:{key.strip().lower()}").str.strip_chars()
        if dim.fold_case:
            value = value.str.to_lowercase()
        candidates.append(pl.when(value != "").then(value))
    tagged = pl.coalesce(candidates) if candidates else pl.lit(None, pl.String)
    if dim.value_aliases:
        aliases = {(k.lower() if dim.fold_case else k): v for k, v in dim.value_aliases.items()}
        tagged = tagged.replace(aliases)
    chain = [tagged]
    if accounts:
        chain.append(pl.col("sub_account").replace_strict(accounts, default=None, return_dtype=pl.String))
        chain.append(pl.col("account").replace_strict(accounts, default=None, return_dtype=pl.String))
    if by_rule:
        chain.append(pl.col("resource_rule").replace_strict(by_rule, default=None, return_dtype=pl.String))
    return pl.coalesce([*chain, pl.lit(unallocated)])


def _shared_rule(shared: list[SharedCost]) -> pl.Expr:
    """Index of the first SharedCost selecting the row, or null for a direct cost."""
    index = pl.lit(None, pl.Int32)
    for i, s in reversed(list(enumerate(shared))):
        match = pl.lit(False)
        for column, values in (
            ("service", s.service_names),
            ("service_category", s.service_categories),
            ("service_subcategory", s.service_subcategories),
            ("charge_category", s.charge_categories),
        ):
            if values:
                match = match | pl.col(column).is_in(values).fill_null(False)
        index = pl.when(match).then(pl.lit(i, pl.Int32)).otherwise(index)
    return index


def daily_costs(conn: duckdb.DuckDBPyConnection, rules: AllocationRules, *, period: str | None = None) -> pl.DataFrame:
    """Billing aggregated to the grain ``allocate`` takes (see sql/analysis/allocation_daily.sql).

    Tag keys and patterns are bound as values; only the number of ``$tagN`` / ``$rxN`` placeholders
    comes from code.
    """
    params: dict[str, object] = {"period_start": period_start(period) if period else None}
    keys = rules.tag_keys()
    tag_columns = []
    for i, key in enumerate(keys):
        params[f"tag{i}"] = key
        tag_columns.append(_TAG_VALUE.format(i=i))
    whens = []
    for i, (rs, rule) in enumerate(rules.resource_rules()):
        params[f"rx{i}"] = rule.pattern
        params[f"rx_from{i}"] = rs.valid_from
        params[f"rx_to{i}"] = rs.valid_to
        whens.append(
            f"WHEN day >= $rx_from{i} AND ($rx_to{i} IS NULL OR day < $rx_to{i}) "
            f"AND regexp_matches(coalesce({rule.field}, ''), $rx{i}) THEN {i}"  # field: a Literal of two names
        )
    resource_rule = f"CASE {' '.join(whens)} END" if whens else "NULL"
    query = sql.load("analysis/allocation_daily").format(
        tag_columns="".join(f"{c}, " for c in tag_columns),
        tag_refs="".join(f"t.tag{i}, " for i in range(len(keys))),
        resource_rule=resource_rule,
    )
    try:
        frame = conn.execute(query, params).pl()
    except duckdb.InvalidInputException as exc:
        raise ConfigError(f"allocation resource rule: {str(exc).splitlines()[0]}", source="allocation") from exc
    return frame.rename({f"tag{i}": f"tag:{k}" for i, k in enumerate(keys)})


@dataclass(frozen=True)
class AllocationResult:
    run_id: int
    rows: pl.DataFrame
    """The allocated_daily rows written (OUTPUT_COLUMNS), one per grain and ``shared`` flag."""
    totals: dict[str, tuple[Decimal, Decimal]]
    """Per BillingCurrency: (BilledCost, EffectiveCost), equal to the bill's."""
    unallocated_share: dict[str, float]
    """Per BillingCurrency: unallocated EffectiveCost / total EffectiveCost (0 when the total is 0)."""
    periods: list[datetime]


def run_allocation(
    conn: duckdb.DuckDBPyConnection, rules: AllocationRules, *, period: str | None = None
) -> AllocationResult:
    """Allocate one billing period ("YYYY-MM"), or every period when None, and store it.

    Idempotent: a rerun replaces the period's ``allocated_daily`` rows (all rows when period is
    None) in one transaction; the run is recorded in ``analysis_runs`` (failed runs too). The table's
    reporting_currency, BilledCost_reporting and EffectiveCost_reporting convert each day at the
    rates the latest ``fx.run_fx`` stored (null without a reporting currency; a missing rate fails
    the run with a ConfigError).
    """
    with analysis_runs.recorded_run(conn) as run_id:
        daily = daily_costs(conn, rules, period=period)
        rows = allocate(daily.lazy(), rules).collect()
        periods = None if period is None else [period_start(period)]
        stored = fx.add_reporting(
            rows.select(OUTPUT_COLUMNS),
            fx.stored_rates(conn),
            day_col="day",
            currency_col="currency",
            money_cols=["BilledCost", "EffectiveCost"],
        )
        analysis_runs.replace_allocated_daily(conn, stored, run_id=run_id, periods=periods)
    totals, shares = summarize(rows, unallocated=rules.unallocated)
    found = sorted({p for p in rows["billing_period_start"].drop_nulls().to_list()})
    log.info("allocation run_id=%d period=%s rows=%d", run_id, period or "all", rows.height)
    return AllocationResult(run_id, rows, totals, shares, found)


def summarize(
    rows: pl.DataFrame, *, unallocated: str = "unallocated"
) -> tuple[dict[str, tuple[Decimal, Decimal]], dict[str, float]]:
    """Totals per currency and the unallocated share of EffectiveCost per currency."""
    agg = rows.group_by("currency").agg(
        pl.col("BilledCost").sum(),
        pl.col("EffectiveCost").sum(),
        pl.col("EffectiveCost").filter(pl.col("team") == unallocated).sum().alias("unallocated"),
    )
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    shares: dict[str, float] = {}
    for cur, billed, effective, unalloc in agg.iter_rows():  # one row per currency
        totals[cur] = (billed, effective)
        shares[cur] = float(unalloc / effective) if effective else 0.0
    return totals, shares
