"""Cost grouped by FOCUS columns and tags: ``spendscope costs --by ServiceName,tag:team``.

With a reporting currency (``spendscope.analysis.fx``), each group also gets its cost converted at each
day's rate and summed: ``reporting_currency``, ``BilledCost_reporting``, ``EffectiveCost_reporting``."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from spendscope import sql
from spendscope.analysis.fx import ReportingRates, convert
from spendscope.errors import ConfigError
from spendscope.exporters.focus_file import period_start
from spendscope.focus import COLUMNS_BY_NAME, EXTENSION_COLUMNS

GROUPABLE = sorted(
    [c.name for c in COLUMNS_BY_NAME.values() if c.type in ("string", "timestamp")]
    + [c for c, t in EXTENSION_COLUMNS.items() if t == "VARCHAR"]
)


# Allocation dimensions and the FOCUS columns the materialized allocation keeps (allocated_daily).
ALLOCATION_DIMENSIONS = ("team", "environment")
ALLOCATED_COLUMNS = {
    "team": "team",
    "environment": "environment",
    "ProviderName": "provider",
    "BillingAccountId": "account",
    "SubAccountId": "sub_account",
    "ServiceName": "service",
    "ServiceCategory": "service_category",
    "RegionId": "region",
}


@dataclass(frozen=True, slots=True)
class Dimension:
    label: str
    """Output column name: the FOCUS column, or 'tag:KEY'."""
    tag_key: str | None = None


def json_pointer(key: str) -> str:
    """RFC 6901 pointer for one object key: a tag key of any spelling, bound as a value."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def parse_dimensions(spec: str) -> list[Dimension]:
    dims = []
    for raw in (part.strip() for part in spec.split(",")):
        if not raw:
            continue
        if raw.startswith("tag:"):
            key = raw[4:]
            if not key:
                raise ConfigError("empty tag key in --by (use tag:KEY)")
            dims.append(Dimension(raw, key))
        elif raw in GROUPABLE or raw in ALLOCATION_DIMENSIONS:
            dims.append(Dimension(raw))
        else:
            raise ConfigError(
                f"cannot group by {raw!r}: use team, environment, a FOCUS column "
                f"({', '.join(GROUPABLE[:6])}, …) or tag:KEY"
            )
    if not dims:
        raise ConfigError("--by needs at least one column")
    return dims


def cost_by(
    conn: duckdb.DuckDBPyConnection,
    dims: list[Dimension],
    *,
    period: str | None = None,
    reporting: ReportingRates | None = None,
) -> pl.DataFrame:
    """Sum of BilledCost and EffectiveCost per group and BillingCurrency (see sql/queries/costs_by.sql).

    Grouping by an allocation dimension (team, environment) reads the materialized allocation of the
    latest ``spendscope analyze`` run instead of parsing tags per request. With ``reporting``, the
    group's cost converted day by day is added beside it (ConfigError for a day without a rate)."""
    params: dict[str, object] = {"period_start": period_start(period) if period else None}
    daily = "_day" if reporting is not None else ""
    if any(d.label in ALLOCATION_DIMENSIONS for d in dims):
        return _in_reporting(_cost_by_allocation(conn, dims, params, daily), dims, reporting)
    exprs = []
    for i, d in enumerate(dims):
        if d.tag_key is None:
            exprs.append(f"{d.label} AS {d.label}")  # a FOCUS column name from GROUPABLE
        else:
            params[f"tag{i}"] = json_pointer(d.tag_key)
            exprs.append(f"json_extract_string(Tags, $tag{i}) AS dim{i}")
    query = sql.load(f"queries/costs_by{daily}").format(dimensions=", ".join(exprs))
    frame = conn.execute(query, params).pl()
    frame = frame.rename({f"dim{i}": d.label for i, d in enumerate(dims) if d.tag_key is not None})
    return _in_reporting(frame, dims, reporting)


def _in_reporting(frame: pl.DataFrame, dims: list[Dimension], reporting: ReportingRates | None) -> pl.DataFrame:
    """Daily rows (from a *_day query) converted and summed back to one row per group and currency."""
    if reporting is None:
        return frame
    money = ["BilledCost", "EffectiveCost"]
    converted = convert(
        frame,
        reporting.rates,
        reporting=reporting.reporting,
        day_col="day",
        currency_col="BillingCurrency",
        money_cols=money,
        source=reporting.source,
    )
    keys = [d.label for d in dims] + ["BillingCurrency"]
    sums = [*money, "reporting_currency", *(f"{m}_reporting" for m in money)]
    return (
        converted.group_by(keys)
        .agg(
            *(pl.col(m).sum() for m in money),
            pl.col("reporting_currency").drop_nulls().first(),
            *(pl.col(f"{m}_reporting").sum() for m in money),
        )
        .with_columns(  # a group without a currency has no reporting figure (not 0)
            pl.when(pl.col("reporting_currency").is_not_null()).then(pl.col(f"{m}_reporting")).alias(f"{m}_reporting")
            for m in money
        )
        .select(*keys, *sums)
        .sort(["BillingCurrency", "EffectiveCost"], descending=[False, True], nulls_last=True)
    )


def _cost_by_allocation(
    conn: duckdb.DuckDBPyConnection, dims: list[Dimension], params: dict[str, object], daily: str = ""
) -> pl.DataFrame:
    unknown = [d.label for d in dims if d.label not in ALLOCATED_COLUMNS]
    if unknown:
        raise ConfigError(
            f"with team/environment, --by takes only {', '.join(ALLOCATED_COLUMNS)} (not {', '.join(unknown)})"
        )
    row = conn.execute("SELECT count(*) FROM allocated_daily").fetchone()
    if not row or not row[0]:
        raise ConfigError("no allocation yet: run `spendscope analyze` first")
    exprs = ", ".join(f'{ALLOCATED_COLUMNS[d.label]} AS "{d.label}"' for d in dims)  # names from a fixed map
    return conn.execute(sql.load(f"queries/costs_by_allocation{daily}").format(dimensions=exprs), params).pl()
