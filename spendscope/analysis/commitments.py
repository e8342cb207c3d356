"""Commitment discounts (reserved instances, savings plans, reservations, committed-use discounts):
utilization, the cost of unused commitment, and coverage of eligible usage, per billing period.

``run_commitments`` sums the FOCUS commitment rows in SQL (``sql/analysis/commitments_*.sql``), derives
the ratios with the pure ``commitment_utilization`` and ``commitment_coverage``, adds reporting-currency
columns from the stored FX rates (``spendscope.analysis.fx``) and replaces ``commitment_utilization``
and ``commitment_coverage`` for the periods it computed, in one transaction, under one analysis run.

Utilization per commitment and period, with ``basis`` saying how it was measured:

- ``quantity``: used / (used + unused) CommitmentDiscountQuantity, when every Used and Unused row
  carries a quantity in one CommitmentDiscountUnit (FOCUS files, Azure exports);
- ``cost``: used / (used + unused) EffectiveCost otherwise (the AWS CUR gives no quantities);
- ``purchase_quantity``: when the bill is not amortized (no Unused rows and a Purchase row with an
  EffectiveCost, as the GCP billing export): used quantity / the Purchase rows' quantity in the same
  unit; the unused quantity is the rest;
- ``none``: none of these can be measured; utilization and unused_commitment_cost are null.

committed_cost is the commitment's cost in the period: Σ EffectiveCost of its Purchase, Used and Unused
rows (= used + unused cost when amortized; the fee when not). purchase_cost is Σ BilledCost of its
Purchase rows (the invoiced fee). unused_commitment_cost is the unused cost (``purchase_quantity``:
committed_cost × unused / purchased quantity). covered_on_demand_cost is the on-demand equivalent of
the usage it covered (ListCost, else ContractedCost); net_savings = covered_on_demand_cost − committed_cost.

Coverage (see sql/analysis/commitments_coverage.sql for the rule): per provider, billing account,
sub account, region, service and currency, covered / eligible on-demand-equivalent cost.
Money is Decimal(38, 12) per BillingCurrency, never summed across currencies; the *_reporting columns
convert at the rate of the billing period's first day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import duckdb
import polars as pl

from spendscope import sql
from spendscope.analysis import fx
from spendscope.exporters.focus_file import period_start
from spendscope.warehouse import analysis_runs

__all__ = [
    "COVERAGE_COLUMNS",
    "COVERAGE_MONEY",
    "UTILIZATION_COLUMNS",
    "UTILIZATION_MONEY",
    "Basis",
    "CommitmentsResult",
    "commitment_coverage",
    "commitment_utilization",
    "run_commitments",
    "stored_commitments",
]

log = logging.getLogger(__name__)

MONEY = pl.Decimal(38, 12)
Basis = Literal["quantity", "cost", "purchase_quantity", "none"]

UTILIZATION_MONEY = [
    "purchase_cost",
    "committed_cost",
    "used_cost",
    "unused_cost",
    "unused_commitment_cost",
    "covered_on_demand_cost",
    "net_savings",
]
UTILIZATION_COLUMNS = [
    "billing_period_start",
    "ProviderName",
    "BillingAccountId",
    "SubAccountId",
    "RegionId",
    "ServiceName",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountType",
    "CommitmentDiscountCategory",
    "CommitmentDiscountUnit",
    "BillingCurrency",
    "purchase_cost",
    "committed_cost",
    "used_cost",
    "unused_cost",
    "committed_quantity",
    "used_quantity",
    "unused_quantity",
    "basis",
    "utilization",
    "unused_commitment_cost",
    "covered_on_demand_cost",
    "net_savings",
]
"""Columns of ``commitment_utilization`` (the table adds reporting_currency, <money>_reporting, run_id)."""

COVERAGE_KEYS = [
    "billing_period_start",
    "ProviderName",
    "BillingAccountId",
    "SubAccountId",
    "RegionId",
    "ServiceName",
    "BillingCurrency",
]
COVERAGE_MONEY = [
    "eligible_on_demand_cost",
    "covered_on_demand_cost",
    "uncovered_on_demand_cost",
    "eligible_effective_cost",
    "unused_commitment_cost",
]
COVERAGE_COLUMNS = [*COVERAGE_KEYS, *COVERAGE_MONEY[:3], "coverage", *COVERAGE_MONEY[3:]]
"""Columns of ``commitment_coverage`` (the table adds reporting_currency, <money>_reporting, run_id)."""

_TABLES = ("commitment_utilization", "commitment_coverage")


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den as Float64; null where den is 0 or null."""
    return pl.when(den != 0).then(num.cast(pl.Float64) / den.cast(pl.Float64))


def commitment_utilization(parts: pl.LazyFrame) -> pl.LazyFrame:
    """UTILIZATION_COLUMNS from the per-commitment sums of sql/analysis/commitments_utilization.sql.

    See the module doc for the bases. Quantities are given in CommitmentDiscountUnit, for the
    ``quantity`` and ``purchase_quantity`` bases only (null otherwise).
    """
    c = pl.col
    used_q, unused_q, purchase_q = c("used_quantity"), c("unused_quantity"), c("purchase_quantity")
    amortized = (c("unused_rows") > 0) | (c("purchase_effective_cost") == 0)
    quantities_complete = (
        (c("usage_rows") > 0) & (c("quantity_rows") == c("usage_rows")) & (c("usage_units") == 1)
    ).fill_null(False)
    by_quantity = amortized & quantities_complete & ((used_q.fill_null(0) + unused_q.fill_null(0)) > 0)
    by_cost = amortized & ((c("used_cost") + c("unused_cost")) != 0)
    by_purchase = (
        ~amortized
        & (c("purchase_rows") > 0)
        & (c("purchase_quantity_rows") == c("purchase_rows"))
        & (c("purchase_units") == 1)
        & (purchase_q > 0)
        & ((c("usage_rows") == 0) | (quantities_complete & (c("usage_unit") == c("purchase_unit"))))
    ).fill_null(False)
    basis = (
        pl.when(by_quantity)
        .then(pl.lit("quantity"))
        .when(by_cost)
        .then(pl.lit("cost"))
        .when(by_purchase)
        .then(pl.lit("purchase_quantity"))
        .otherwise(pl.lit("none"))
    )
    framed = parts.with_columns(basis=basis).with_columns(
        used_quantity=pl.when(c("basis") == "quantity")
        .then(used_q.fill_null(0))
        .when(c("basis") == "purchase_quantity")
        .then(used_q.fill_null(0)),
        unused_quantity=pl.when(c("basis") == "quantity")
        .then(unused_q.fill_null(0))
        .when(c("basis") == "purchase_quantity")
        .then(purchase_q - used_q.fill_null(0)),
        CommitmentDiscountUnit=pl.when(c("basis") == "quantity")
        .then(c("usage_unit"))
        .when(c("basis") == "purchase_quantity")
        .then(c("purchase_unit")),
    )
    committed_q = c("used_quantity") + c("unused_quantity")
    utilization = (
        pl.when(c("basis").is_in(["quantity", "purchase_quantity"]))
        .then(_ratio(c("used_quantity"), committed_q))
        .when(c("basis") == "cost")
        .then(_ratio(c("used_cost"), c("used_cost") + c("unused_cost")))
    )
    unused_cost = (
        pl.when(c("basis").is_in(["quantity", "cost"]))
        .then(c("unused_cost"))
        .when(c("basis") == "purchase_quantity")
        .then(c("committed_cost") * c("unused_quantity") / committed_q)
    )
    return (
        framed.with_columns(
            committed_quantity=committed_q.cast(MONEY),
            used_quantity=c("used_quantity").cast(MONEY),
            unused_quantity=c("unused_quantity").cast(MONEY),
            utilization=utilization,
            unused_commitment_cost=unused_cost.cast(MONEY),
            net_savings=(c("covered_on_demand_cost") - c("committed_cost")).cast(MONEY),
        )
        .with_columns(pl.col(m).cast(MONEY) for m in UTILIZATION_MONEY)
        .select(UTILIZATION_COLUMNS)
        .sort(["billing_period_start", "ProviderName", "CommitmentDiscountId", "BillingCurrency"], nulls_last=True)
    )


def commitment_coverage(groups: pl.LazyFrame) -> pl.LazyFrame:
    """COVERAGE_COLUMNS from the sums of sql/analysis/commitments_coverage.sql: coverage = covered /
    eligible on-demand-equivalent cost (null when nothing is eligible, e.g. a group with only unused
    commitment); uncovered = eligible − covered."""
    c = pl.col
    return (
        groups.with_columns(
            uncovered_on_demand_cost=c("eligible_on_demand_cost") - c("covered_on_demand_cost"),
            coverage=_ratio(c("covered_on_demand_cost"), c("eligible_on_demand_cost")),
        )
        .with_columns(pl.col(m).cast(MONEY) for m in COVERAGE_MONEY)
        .select(COVERAGE_COLUMNS)
        .sort(COVERAGE_KEYS, nulls_last=True)
    )


@dataclass(frozen=True)
class CommitmentsResult:
    run_id: int
    utilization: pl.DataFrame
    """The commitment_utilization rows written (UTILIZATION_COLUMNS + reporting columns)."""
    coverage: pl.DataFrame
    """The commitment_coverage rows written (COVERAGE_COLUMNS + reporting columns)."""


def _with_reporting(frame: pl.DataFrame, rates: fx.ReportingRates | None, money: list[str]) -> pl.DataFrame:
    dated = frame.with_columns(_period_day=pl.col("billing_period_start").dt.date())
    out = fx.add_reporting(dated, rates, day_col="_period_day", currency_col="BillingCurrency", money_cols=money)
    return out.drop("_period_day")


def run_commitments(conn: duckdb.DuckDBPyConnection, *, period: str | None = None) -> CommitmentsResult:
    """Compute utilization and coverage of one billing period ("YYYY-MM"), or every period when None, and store them.

    Idempotent: a rerun replaces the period's rows of both tables (every row when period is None) in
    one transaction; the run is recorded in ``analysis_runs`` (failed runs too). Reporting columns use
    the rates of the latest ``fx.run_fx`` (null when no reporting currency is stored).
    """
    with analysis_runs.recorded_run(conn) as run_id:
        start = period_start(period) if period else None
        params = {"period_start": start}
        parts = conn.execute(sql.load("analysis/commitments_utilization"), params).pl()
        groups = conn.execute(sql.load("analysis/commitments_coverage"), params).pl()
        rates = fx.stored_rates(conn)
        utilization = _with_reporting(commitment_utilization(parts.lazy()).collect(), rates, UTILIZATION_MONEY)
        coverage = _with_reporting(commitment_coverage(groups.lazy()).collect(), rates, COVERAGE_MONEY)
        scope = "TRUE"
        if start is not None:
            scope = "billing_period_start >= $start AND billing_period_start < $start + INTERVAL 1 MONTH"
        analysis_runs.replace_tables(
            conn,
            dict(zip(_TABLES, (utilization, coverage), strict=True)),
            run_id=run_id,
            scope=scope,
            params={"start": start} if start is not None else None,
        )
    log.info(
        "commitments run_id=%d period=%s commitments=%d coverage_rows=%d",
        run_id,
        period or "all",
        utilization.height,
        coverage.height,
    )
    return CommitmentsResult(run_id, utilization, coverage)


def stored_commitments(
    conn: duckdb.DuckDBPyConnection, *, view: Literal["utilization", "coverage"], period: str | None = None
) -> pl.DataFrame:
    """The stored rows of one view (sql/queries/commitment_<view>.sql), ``period`` as YYYY-MM: the flat
    rows ``spendscope commitments`` prints. Read-only."""
    start = period_start(period) if period else None
    return conn.execute(sql.load(f"queries/commitment_{view}"), {"period_start": start}).pl()
