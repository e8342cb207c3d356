"""Cost per transaction (unit cost): a service's cost divided by its transactions over the same window.

A service's cost is the EffectiveCost (amortized; ``cost_column`` may pick BilledCost) of the charges
whose service tag (``service.tag_keys``, default ``app``, matched ignoring case, values folded and
aliased like the allocation rules) names it, optionally only in some ``environments``, per
BillingCurrency, never converted. ``sql/analysis/unit_cost_hourly.sql`` sums it per UTC hour,
spreading a daily or monthly charge evenly over the hours it covers (exactly: the rounding
remainder goes to its last hour); day and month windows are sums of those hours. Transactions are
the stored counts (table ``transactions``: files, Prometheus) whose bucket lies inside the window.

Each (service, window, currency) row gets one ``status``:

- ``cost_pending``: the window ends after the latest billed ChargePeriodEnd of the service's
  providers (for a service never billed, of the earliest provider): cost still to come, so the cost
  is what has arrived so far (NULL when nothing has), never a zero, and no unit cost;
- ``no_traffic_metric``: cost but no transactions bucket inside the window (transactions NULL);
- ``no_cost``: transactions, but the service was never billed in the range (cost and currency NULL);
- ``partial_traffic``: the buckets cover only part of the window (e.g. Prometheus retention):
  transactions are the partial sum and there is no unit cost;
- ``ok``: cost_per_transaction = cost / transactions (Decimal(38, 18), rounded half away from zero),
  NULL where transactions are 0: never an infinity. A window with traffic and a complete bill
  has a row in each currency the service is billed in (in the range computed), 0 where it has no
  charge.

``run_unit_costs`` computes the hour, day and month windows of one calendar month (or all) and
replaces them in ``unit_costs`` under one analysis run; ``stored_unit_costs`` reads them back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from spendscope import sql
from spendscope.analysis.allocation import Dimension
from spendscope.collectors.prometheus import PrometheusSource
from spendscope.exporters.focus_file import period_start
from spendscope.warehouse import analysis_runs

__all__ = [
    "OUTPUT_COLUMNS",
    "WINDOW_KINDS",
    "TransactionsFile",
    "UnitCostResult",
    "UnitCostSettings",
    "UnitCostStatus",
    "WindowKind",
    "hourly_costs",
    "resolve_names",
    "run_unit_costs",
    "service_hourly_costs",
    "stored_unit_costs",
    "unit_costs",
]

log = logging.getLogger(__name__)

WindowKind = Literal["hour", "day", "month"]
UnitCostStatus = Literal["ok", "no_traffic_metric", "cost_pending", "no_cost", "partial_traffic"]
WINDOW_KINDS: tuple[WindowKind, ...] = ("hour", "day", "month")
_EVERY: dict[WindowKind, str] = {"hour": "1h", "day": "1d", "month": "1mo"}
MONEY = pl.Decimal(38, 12)
COUNT = pl.Decimal(38, 6)
UNIT_COST = pl.Decimal(38, 18)

OUTPUT_COLUMNS = [
    "window_kind",
    "service",
    "window_start",
    "window_end",
    "currency",
    "cost",
    "transactions",
    "cost_per_transaction",
    "status",
    "cost_complete_until",
]
"""Columns of ``unit_costs`` and of the ``unit_costs`` table (without run_id)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TransactionsFile(_Strict):
    """A ``service,timestamp,count`` CSV/Parquet file loaded by ``spendscope ingest transactions``."""

    path: str = Field(min_length=1, description="the file (timestamp = bucket start, UTC)")
    source: str = Field(default="files", min_length=1, description="transactions source name")
    bucket: str = Field(default="1 hour", description="each row's window as a DuckDB interval, e.g. '1 day'")


class UnitCostSettings(_Strict):
    """Cost per transaction (the ``[unit_cost]`` section): which charges are a service's, and its traffic."""

    service: Dimension = Field(
        default_factory=lambda: Dimension(tag_keys=["app"]),
        description="tag keys naming the service (case-insensitive, first non-empty wins), folding, aliases",
    )
    environment: Dimension = Field(
        default_factory=lambda: Dimension(tag_keys=["env", "environment"]),
        description="tag keys of the environment, used only with `environments`",
    )
    environments: list[str] | None = Field(
        default=None, description="only charges in these environments (after folding/aliases); None: all"
    )
    cost_column: Literal["EffectiveCost", "BilledCost"] = Field(
        default="EffectiveCost", description="EffectiveCost (amortized) or BilledCost"
    )
    windows: list[WindowKind] = Field(
        default_factory=lambda: list(WINDOW_KINDS), min_length=1, description="window kinds computed"
    )
    transaction_sources: list[str] | None = Field(
        default=None,
        description="transactions sources summed (None: all); name one when two sources count the same traffic",
    )
    prometheus: PrometheusSource | None = Field(default=None, description="transactions from Prometheus")
    transactions_files: list[TransactionsFile] = Field(
        default_factory=list, description="files `spendscope ingest transactions` loads when given none"
    )

    @field_validator("service")
    @classmethod
    def _service_keys(cls, dim: Dimension) -> Dimension:
        if not dim.tag_keys:
            raise ValueError("service.tag_keys must name at least one tag key")
        return dim


def resolve_names(column: pl.Expr, dim: Dimension) -> pl.Expr:
    """Stripped, folded (``dim.fold_case``) and aliased names; empty → null (like allocation's tags)."""
    value = column.str.strip_chars()
    if dim.fold_case:
        value = value.str.to_lowercase()
    value = pl.when(value != "").then(value)
    if dim.value_aliases:
        value = value.replace({(k.lower() if dim.fold_case else k): v for k, v in dim.value_aliases.items()})
    return value


def service_hourly_costs(hourly: pl.LazyFrame, settings: UnitCostSettings) -> pl.LazyFrame:
    """Rows of unit_cost_hourly.sql → provider, service, currency, hour, cost (names resolved, filtered)."""
    frame = hourly.with_columns(service=resolve_names(pl.col("service_tag"), settings.service))
    if settings.environments is not None:
        wanted = [e.strip().lower() if settings.environment.fold_case else e.strip() for e in settings.environments]
        environment = resolve_names(pl.col("environment_tag"), settings.environment)
        frame = frame.filter(environment.is_in(wanted).fill_null(False))
    return (
        frame.filter(pl.col("service").is_not_null())
        .group_by("provider", "service", "currency", "hour")
        .agg(pl.col("cost").sum().cast(MONEY))
    )


def unit_costs(
    costs: pl.LazyFrame,
    transactions: pl.LazyFrame,
    complete: pl.LazyFrame,
    *,
    window: WindowKind,
    services: Dimension | None = None,
) -> pl.LazyFrame:
    """Cost per transaction per (service, window, currency): OUTPUT_COLUMNS, sorted (see module doc).

    ``costs``: provider, service, currency, hour (UTC hour start), cost (Decimal), names resolved.
    ``transactions``: service, window_start, window_end, count (Decimal); names are resolved with
    ``services`` when given. ``complete``: provider, cost_complete_until (latest ChargePeriodEnd).
    """
    every = _EVERY[window]
    tx = transactions
    if services is not None:
        tx = tx.with_columns(service=resolve_names(pl.col("service"), services)).filter(pl.col("service").is_not_null())
    buckets = (
        tx.group_by("service", "window_start", "window_end")
        .agg(pl.col("count").sum())
        .with_columns(bucket_window=pl.col("window_start").dt.truncate(every))
        .filter(pl.col("window_end") <= pl.col("bucket_window").dt.offset_by(every))
    )
    traffic = buckets.group_by("service", window_start=pl.col("bucket_window")).agg(
        transactions=pl.col("count").sum().cast(COUNT),
        covered=(pl.col("window_end") - pl.col("window_start")).sum(),
    )
    cost = costs.group_by("service", "currency", window_start=pl.col("hour").dt.truncate(every)).agg(
        pl.col("cost").sum().cast(MONEY)
    )
    currencies = costs.select("service", "currency").unique()
    until = (
        costs.select("service", "provider")
        .unique()
        .join(complete, on="provider", how="left", nulls_equal=True)
        .group_by("service")
        .agg(service_until=pl.col("cost_complete_until").min())
    )
    earliest = complete.select(earliest=pl.col("cost_complete_until").min())

    # Every billed (service, currency, window), and every window with traffic in each of the service's
    # currencies (currency null for a service never billed).
    keys = pl.concat(
        [
            cost.select("service", "currency", "window_start"),
            traffic.select("service", "window_start")
            .join(currencies, on="service", how="left")
            .select("service", "currency", "window_start"),
        ],
        how="vertical",
    ).unique()
    rows = (
        keys.join(cost, on=["service", "currency", "window_start"], how="left", nulls_equal=True)
        .join(traffic, on=["service", "window_start"], how="left")
        .join(until, on="service", how="left")
        .join(earliest, how="cross")
        .with_columns(
            window_end=pl.col("window_start").dt.offset_by(every),
            cost_complete_until=pl.coalesce("service_until", "earliest"),
        )
    )
    pending = (
        pl.col("cost_complete_until").is_null() | (pl.col("window_end") > pl.col("cost_complete_until"))
    ).fill_null(True)
    no_cost = pl.col("currency").is_null()
    cost_value = (
        pl.when(pl.col("cost").is_null() & ~no_cost & ~pending).then(pl.lit(Decimal(0), MONEY)).otherwise("cost")
    )
    status = (
        pl.when(pending)
        .then(pl.lit("cost_pending"))
        .when(pl.col("transactions").is_null())
        .then(pl.lit("no_traffic_metric"))
        .when(no_cost)
        .then(pl.lit("no_cost"))
        .when(pl.col("covered") < pl.col("window_end") - pl.col("window_start"))
        .then(pl.lit("partial_traffic"))
        .otherwise(pl.lit("ok"))
    )
    divisor = pl.when(pl.col("transactions") != 0).then(pl.col("transactions"))
    return (
        rows.with_columns(cost=cost_value, status=status)
        .with_columns(
            cost_per_transaction=pl.when(pl.col("status") == "ok")
            .then(pl.col("cost").cast(UNIT_COST) / divisor)
            .cast(UNIT_COST),
            window_kind=pl.lit(window),
        )
        .select(OUTPUT_COLUMNS)
        .sort("service", "window_start", "currency", nulls_last=True)
    )


def hourly_costs(
    conn: duckdb.DuckDBPyConnection, settings: UnitCostSettings, *, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """The raw hourly scan (unit_cost_hourly.sql) for hours in [start, end) (None: unbounded)."""
    params = {
        "service_keys": [k.strip().lower() for k in settings.service.tag_keys],
        "environment_keys": [k.strip().lower() for k in settings.environment.tag_keys],
        "cost_column": settings.cost_column,
        "from": start,
        "to": end,
    }
    return conn.execute(sql.load("analysis/unit_cost_hourly"), params).pl()


@dataclass(frozen=True)
class UnitCostResult:
    run_id: int
    rows: pl.DataFrame
    """The unit_costs rows written (OUTPUT_COLUMNS), every window kind."""
    statuses: dict[str, int]
    """Rows per status."""


def _month_range(period: str | None) -> tuple[datetime | None, datetime | None]:
    if period is None:
        return None, None
    start = period_start(period)
    nxt = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=start.tzinfo)
    return start, nxt


def run_unit_costs(
    conn: duckdb.DuckDBPyConnection, settings: UnitCostSettings, *, period: str | None = None
) -> UnitCostResult:
    """Compute cost per transaction for the windows of one calendar month ("YYYY-MM"), or all, and store it.

    Idempotent: a rerun replaces the ``unit_costs`` rows whose window starts in that month (every
    row when period is None) in one transaction, under one analysis run (failed runs recorded too).
    """
    with analysis_runs.recorded_run(conn) as run_id:
        start, end = _month_range(period)
        hourly = service_hourly_costs(hourly_costs(conn, settings, start=start, end=end).lazy(), settings)
        tx = conn.execute(
            sql.load("analysis/unit_cost_transactions"),
            {"sources": settings.transaction_sources, "from": start, "to": end},
        ).pl()
        complete = conn.execute(sql.load("analysis/unit_cost_complete")).pl()
        parts = [
            unit_costs(hourly, tx.lazy(), complete.lazy(), window=kind, services=settings.service)
            for kind in dict.fromkeys(settings.windows)
        ]
        rows = pl.concat(parts, how="vertical").collect()
        scope = "TRUE" if start is None else "window_start >= $start AND window_start < $end"
        analysis_runs.replace_results(
            conn, "unit_costs", rows, run_id=run_id, scope=scope, params={"start": start, "end": end} if start else None
        )
    statuses = dict(rows.group_by("status").len().sort("status").iter_rows())
    log.info("unit_costs run_id=%d period=%s rows=%d statuses=%s", run_id, period or "all", rows.height, statuses)
    return UnitCostResult(run_id, rows, statuses)


def stored_unit_costs(
    conn: duckdb.DuckDBPyConnection,
    *,
    window: WindowKind = "day",
    service: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pl.DataFrame:
    """The stored rows of one window kind (``unit-cost``'s output): service, window_start, window_end,
    currency, cost, transactions, cost_per_transaction, status; windows starting in [start, end)."""
    params = {"window_kind": window, "service": service, "from": start, "to": end}
    return conn.execute(sql.load("analysis/unit_cost_stored"), params).pl()
