"""Reporting currency: every money figure can also be shown in one currency, at FX rates the user supplies.

The ``[currency]`` config section names the reporting currency (an ISO 4217 code) and a CSV file of
effective-dated rates with the columns ``currency,rate,effective_from``: 1 unit of ``currency`` =
``rate`` units of the reporting currency from ``effective_from`` (a ``YYYY-MM-DD`` date) on. A day
uses the latest rate with ``effective_from <= day``; the reporting currency converts to itself at 1.

Converted figures sit beside the originals, never replace them: ``convert`` adds ``reporting_currency``
and ``<col>_reporting`` columns. ``run_fx`` (an analysis job, run before allocation and commitments)
reads the CSV and stores it in the warehouse table ``fx_rates``; analysis jobs and reports read the
stored rates with ``stored_rates``, so every result of one analysis uses the same rates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spendscope.errors import ConfigError, WarehouseError
from spendscope.warehouse import analysis_runs

__all__ = [
    "RATE_COLUMNS",
    "CurrencySettings",
    "ReportingRates",
    "add_reporting",
    "convert",
    "is_currency_code",
    "load_reporting",
    "read_rates",
    "run_fx",
    "stored_rates",
]

log = logging.getLogger(__name__)

MONEY = pl.Decimal(38, 12)
RATE_COLUMNS = ["currency", "rate", "effective_from"]
"""Columns of the rates CSV and of a rates frame (currency String, rate Decimal(38, 12), effective_from Date)."""
_IDENTITY_FROM = date(1, 1, 1)
_RATES_SCHEMA = pl.Schema([("currency", pl.String()), ("rate", MONEY), ("effective_from", pl.Date())])


def is_currency_code(code: str) -> bool:
    """True for an ISO 4217 alphabetic code, upper case as FOCUS writes it ('EUR', not 'eur')."""
    found = pycountry.currencies.get(alpha_3=code)
    return found is not None and found.alpha_3 == code


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CurrencySettings(_Strict):
    """An optional reporting currency and the FX rates into it (section ``[currency]``)."""

    reporting: str | None = Field(
        default=None, description="ISO 4217 code of the reporting currency, e.g. 'EUR'; unset: no conversion"
    )
    fx_rates: Path | None = Field(
        default=None,
        description="CSV with columns currency,rate,effective_from: 1 unit of currency = rate units of the "
        "reporting currency from that date (YYYY-MM-DD) on",
    )

    @field_validator("reporting")
    @classmethod
    def _iso_code(cls, value: str | None) -> str | None:
        if value is not None and not is_currency_code(value):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (upper case, e.g. 'EUR')")
        return value

    @model_validator(mode="after")
    def _rates_need_reporting(self) -> CurrencySettings:
        if self.fx_rates is not None and self.reporting is None:
            raise ValueError("fx_rates needs reporting: the currency the rates convert into")
        return self


@dataclass(frozen=True)
class ReportingRates:
    reporting: str
    """The reporting currency (ISO 4217)."""
    rates: pl.DataFrame
    """RATE_COLUMNS; the reporting currency itself needs no row."""
    source: str
    """The rates file (or the warehouse table) errors name."""


def read_rates(path: Path, *, reporting: str) -> pl.DataFrame:
    """The validated rates of a CSV file (RATE_COLUMNS, sorted by currency and effective_from).

    Raises ConfigError naming the file (and the line, for a bad value): unreadable file, other
    columns, a rate that is not a positive decimal, a date that is not YYYY-MM-DD, a currency that is
    not ISO 4217, two rates for one currency and date, a reporting-currency rate other than 1.
    """
    source = str(path)
    if not path.is_file():
        raise ConfigError("FX rates file not found", source=source)
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read FX rates: {str(exc).splitlines()[0]}", source=source) from exc
    if sorted(raw.columns) != sorted(RATE_COLUMNS):
        raise ConfigError(
            f"FX rates need the columns {','.join(RATE_COLUMNS)}; found {','.join(raw.columns) or 'none'}",
            source=source,
        )
    text = raw.select(pl.col(c).str.strip_chars() for c in RATE_COLUMNS).with_row_index("line", offset=2)
    typed = text.with_columns(
        rate=pl.col("rate").cast(MONEY, strict=False),
        effective_from=pl.col("effective_from").str.to_date("%Y-%m-%d", strict=False),
    )
    checks = [
        ("currency", pl.col("currency").is_null(), "currency is empty"),
        ("rate", pl.col("rate").is_null() | (pl.col("rate") <= 0), "rate is not a positive decimal"),
        ("effective_from", pl.col("effective_from").is_null(), "effective_from is not a YYYY-MM-DD date"),
    ]
    for column, bad, problem in checks:
        first = typed.filter(bad).select("line").head(1)
        if first.height:
            line = int(first.item())
            value = text.filter(pl.col("line") == line).select(column).item()
            raise ConfigError(f"line {line}: {problem} ({value!r})", source=source)
    codes = typed.get_column("currency").unique().sort().to_list()
    unknown = [c for c in codes if not is_currency_code(c)]  # one lookup per distinct code
    if unknown:
        at = typed.filter(pl.col("currency") == unknown[0]).select(pl.col("line").min()).item()
        raise ConfigError(f"line {at}: {unknown[0]!r} is not an ISO 4217 currency code", source=source)
    dup = typed.filter(~pl.struct("currency", "effective_from").is_first_distinct()).sort("line").head(1)
    if dup.height:
        cur, day, line = dup.select("currency", "effective_from", "line").row(0)
        raise ConfigError(f"line {line}: a second rate for {cur} from {day}", source=source)
    own = typed.filter((pl.col("currency") == reporting) & (pl.col("rate") != 1)).head(1)
    if own.height:
        raise ConfigError(
            f"line {own.get_column('line').item()}: the reporting currency {reporting} converts at 1", source=source
        )
    return typed.select(RATE_COLUMNS).cast(_RATES_SCHEMA).sort("currency", "effective_from")


def load_reporting(settings: CurrencySettings) -> ReportingRates | None:
    """The configured reporting currency and its rates, read from the CSV; None when none is configured."""
    if settings.reporting is None:
        return None
    if settings.fx_rates is None:
        return ReportingRates(
            settings.reporting, pl.DataFrame(schema=_RATES_SCHEMA), "config currency.fx_rates (unset)"
        )
    rates = read_rates(settings.fx_rates, reporting=settings.reporting)
    return ReportingRates(settings.reporting, rates, str(settings.fx_rates))


def convert(
    frame: pl.DataFrame,
    rates: pl.DataFrame,
    *,
    reporting: str,
    day_col: str,
    currency_col: str,
    money_cols: list[str],
    source: str | None = None,
) -> pl.DataFrame:
    """``frame`` with ``reporting_currency`` and ``<col>_reporting`` (Decimal(38, 12)) for each money column.

    Each row converts at the rate of its currency on its day (Date, or a Datetime whose date is
    used): the latest ``rates`` row with effective_from <= day; a row in the reporting currency
    converts at 1. Rows with a null currency or day get nulls. Products are rounded to 12 decimals
    (half to even). Raises ConfigError naming the currency and the first day without a rate
    (``source``: the rates file, named in the error).
    """
    cur, day = pl.col(currency_col), pl.col(day_col).cast(pl.Date)
    keys = frame.select(__fx_cur=cur, __fx_day=day).unique().drop_nulls()
    foreign = keys.filter(pl.col("__fx_cur") != reporting)
    table = rates.select(__fx_cur="currency", __fx_from="effective_from", __fx_rate=pl.col("rate").cast(MONEY))
    found = (
        foreign.join(table, on="__fx_cur", how="inner")
        .filter(pl.col("__fx_from") <= pl.col("__fx_day"))
        .group_by("__fx_cur", "__fx_day")
        .agg(pl.col("__fx_rate").sort_by("__fx_from").last())
    )
    missing = foreign.join(found, on=["__fx_cur", "__fx_day"], how="anti").sort("__fx_day", "__fx_cur").head(1)
    if missing.height:
        code, first = missing.row(0)
        raise ConfigError(
            f"no FX rate from {code} to {reporting} on {first} (the first day without one): "
            f"add a row with effective_from on or before {first}",
            source=source,
        )
    joined = frame.with_columns(__fx_cur=cur, __fx_day=day).join(
        found, on=["__fx_cur", "__fx_day"], how="left", maintain_order="left"
    )
    rate = pl.when(pl.col("__fx_cur") == reporting).then(pl.lit(1, MONEY)).otherwise(pl.col("__fx_rate"))
    return joined.with_columns(__fx_rate=rate).select(
        pl.exclude("__fx_cur", "__fx_day", "__fx_rate"),
        reporting_currency=pl.when(pl.col("__fx_rate").is_not_null()).then(pl.lit(reporting)),
        **{f"{c}_reporting": (pl.col(c).cast(MONEY) * pl.col("__fx_rate")).cast(MONEY) for c in money_cols},
    )


def add_reporting(
    frame: pl.DataFrame,
    reporting: ReportingRates | None,
    *,
    day_col: str,
    currency_col: str,
    money_cols: list[str],
) -> pl.DataFrame:
    """``convert`` with ``reporting``'s rates; without a reporting currency, the same columns all null."""
    if reporting is None:
        return frame.with_columns(
            reporting_currency=pl.lit(None, pl.String), **{f"{c}_reporting": pl.lit(None, MONEY) for c in money_cols}
        )
    return convert(
        frame,
        reporting.rates,
        reporting=reporting.reporting,
        day_col=day_col,
        currency_col=currency_col,
        money_cols=money_cols,
        source=reporting.source,
    )


def run_fx(conn: duckdb.DuckDBPyConnection, settings: CurrencySettings) -> ReportingRates | None:
    """Read the configured rates and replace the ``fx_rates`` table with them, under one analysis run.

    Run before the jobs that convert (allocation, commitments). Without a reporting currency the
    table is emptied, and their reporting columns are null. Returns what was stored.
    """
    with analysis_runs.recorded_run(conn) as run_id:
        reporting = load_reporting(settings)
        frame = pl.DataFrame(schema={"reporting_currency": pl.String, **dict(_RATES_SCHEMA), "source": pl.String})
        if reporting is not None:
            identity = pl.DataFrame(
                {"currency": [reporting.reporting], "rate": [1], "effective_from": [_IDENTITY_FROM]}
            ).cast(_RATES_SCHEMA)
            frame = pl.concat([identity, reporting.rates], how="vertical").select(
                pl.lit(reporting.reporting).alias("reporting_currency"),
                *RATE_COLUMNS,
                pl.lit(reporting.source).alias("source"),
            )
        analysis_runs.replace_results(conn, "fx_rates", frame, run_id=run_id)
    log.info("fx run_id=%d reporting=%s rates=%d", run_id, settings.reporting, frame.height)
    return reporting


def stored_rates(conn: duckdb.DuckDBPyConnection) -> ReportingRates | None:
    """The rates the latest ``run_fx`` stored; None when no reporting currency was configured."""
    frame = conn.execute("SELECT reporting_currency, currency, rate, effective_from, source FROM fx_rates").pl()
    if frame.is_empty():
        return None
    targets = frame.get_column("reporting_currency").unique().to_list()
    if len(targets) != 1:
        raise WarehouseError(f"fx_rates holds rates into {len(targets)} currencies, not one", source="fx_rates")
    reporting = str(targets[0])
    rates = frame.filter(pl.col("currency") != reporting).select(RATE_COLUMNS).cast(_RATES_SCHEMA)
    return ReportingRates(reporting, rates, str(frame.get_column("source")[0] or "fx_rates"))
