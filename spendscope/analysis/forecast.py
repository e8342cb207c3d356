"""Month-end forecast of amortized cost with an interval, per currency, for the total and per team,
account (SubAccountId) and service; and the budgets' burn-rate status from the same forecast.

``run_forecast`` reads daily EffectiveCost from allocated_daily (``sql/analysis/forecast_daily.sql``),
models it with the pure ``forecast_month`` and stores one row per series in ``forecasts`` (a run
replaces only the rows of its own made_on and period: forecasts made on other days stay, for
``forecast_accuracy``) and every budget's status in ``budget_status`` (all rows replaced).

How a month-end figure is made as of ``as_of`` (only days before it are used):

1. Series (``forecast_series.fill_days``): one per (scope, scope_value, currency), never mixing
   currencies; days without cost are 0, from the series' first day within ``history_days``.
2. Month-level charges (``split_month_level``): support fees, tax, credits and monthly commitment
   fees are billed for the whole month with ChargePeriodStart on the 1st, so they land on day 1 as a
   lump on top of that day's usage. A month's lump = day 1 − the same weekday a week later (a week
   earlier while day 8 is unknown); the model sees day 1 replaced by that baseline, i.e. usage-like
   cost. The period's lump counts as booked when it is at least half the previous month's (absolute
   values); otherwise (invoice rows not arrived yet, or the period not started) the difference to the
   previous month's lump is added on the first forecast day (``month_level_expected`` / ``_booked``).
3. One-off spikes are replaced by their neighbourhood's level (``clean_outliers``) so that a spike
   just before as_of is not taken for the new level; the interval is widened back by the in-sample
   error the spikes caused (``forecast_model.widening``): future months have spikes too.
4. The remaining days are forecast by ``forecast_model.fit_series`` (default MSTL with a weekly
   season and an AutoETS trend; HistoricAverage with under 14 days of history, named in ``model``),
   clipped below at min(0, lowest day seen): a usage series does not forecast negative cost.
5. Month-end = mtd_actual (Decimal, exact) + Σ forecast + unbooked month-level charges. The 80 % / 95 %
   bounds add the daily bounds, i.e. they assume the daily errors move together (as a level error of
   exponential smoothing does), wider than independent days would give.
6. ``seasonal_share``: the share of the expected month (fitted values before as_of, forecast from it,
   month-level charges on day 1) that falls before as_of: the budgets' seasonal pace.

Choices measured on generated bills (16 seeds, September and October, USD and EUR totals: 64
forecasts per day of month; see tests/analysis/test_forecast_accuracy.py). MAPE made on day 20 / 10:
MSTL with spike cleaning 2.05 % / 6.3 % (worst 10.8 %), AutoETS(7) with cleaning 2.19 % / 5.9 %,
MSTL without cleaning 2.66 % / 6.4 % (worst 20.7 %: a spike the day before read as the new level).
91 days of history: 2.05 %, 63 days 2.11 %, 120 days 2.02 % (barely more than the 4 months there).
Interval coverage with cleaning and widening: 80 % held the actual in 86-88 %, 95 % in 91-95 %.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import polars as pl

from spendscope import sql
from spendscope.analysis.budgets import BUDGET_COLUMNS, Scope, budget_status, effective_budgets
from spendscope.analysis.forecast_model import ModelName, fit_series, widening
from spendscope.analysis.forecast_series import (
    DAILY_SCHEMA,
    KEYS,
    MONEY,
    OUTLIER_K,
    clean_outliers,
    fill_days,
    join_keys,
    split_month_level,
)
from spendscope.errors import ConfigError
from spendscope.exporters.focus_file import period_start as _period_start
from spendscope.warehouse import analysis_runs

if TYPE_CHECKING:
    from spendscope.config import Settings

__all__ = [
    "DEFAULT_MODEL",
    "FORECAST_COLUMNS",
    "HISTORY_DAYS",
    "SCOPES",
    "ForecastResult",
    "accuracy_summary",
    "daily_series",
    "default_as_of",
    "fit_paths",
    "forecast_accuracy",
    "forecast_month",
    "history_start",
    "month_end",
    "parse_day",
    "run_forecast",
]

log = logging.getLogger(__name__)

SCOPES: tuple[Scope, ...] = ("total", "team", "account", "service")
HISTORY_DAYS = 91
"""Days of history before as_of the model sees (13 weeks; see test_forecast_accuracy for the choice)."""
DEFAULT_MODEL: ModelName = "mstl"

FORECAST_COLUMNS: dict[str, pl.DataType] = {
    "made_on": pl.Date(),
    "period": pl.Date(),
    "scope": pl.String(),
    "scope_value": pl.String(),
    "currency": pl.String(),
    "days_elapsed": pl.Int32(),
    "days_in_period": pl.Int32(),
    "mtd_actual": MONEY,
    "month_level_expected": MONEY,
    "month_level_booked": MONEY,
    "point": MONEY,
    "lo80": MONEY,
    "hi80": MONEY,
    "lo95": MONEY,
    "hi95": MONEY,
    "seasonal_share": pl.Float64(),
    "model": pl.String(),
    "history_days": pl.Int32(),
}
"""Columns of ``forecast_month`` and of the ``forecasts`` table (without run_id)."""

_BOUNDS = ["lo80", "hi80", "lo95", "hi95"]


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def history_start(as_of: date, period: date, history_days: int) -> date:
    """First day a forecast reads: ``history_days`` before as_of, or the period's first day if earlier."""
    return min(as_of - timedelta(days=history_days), period)


def fit_paths(
    model_input: pl.DataFrame, *, as_of: date, until: date, model: ModelName = DEFAULT_MODEL
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(paths, models) for every series of ``model_input`` (KEYS, day, y; days before as_of).

    paths: KEYS, day, expected (Float64: in-sample fitted value before as_of, forecast mean from
    as_of to ``until`` − 1), lo80..hi95 (forecast days only). models: KEYS, model, history_days.
    Forecasts are clipped below at min(0, the series' lowest day).
    """
    horizon = max((until - as_of).days, 0)
    future = pl.date_range(as_of, as_of + timedelta(days=horizon - 1), "1d", eager=True) if horizon else None
    paths, models = [], []
    for keys, group in model_input.sort("day").group_by(KEYS, maintain_order=True):
        y = group["y"].to_numpy().astype(np.float64)
        fit = fit_series(y, horizon, model=model)
        floor = min(0.0, float(y.min()))
        fitted = np.where(np.isfinite(fit.fitted), fit.fitted, y)
        widen = widening(group["y_raw"].to_numpy() if "y_raw" in group.columns else y, y, fitted)
        key = dict(zip(KEYS, keys, strict=True))
        history = pl.DataFrame({**key, "day": group["day"], "expected": fitted}, schema_overrides=DAILY_SCHEMA)
        paths.append(history)
        if future is not None:
            bounds = {b: np.maximum(fit.mean + (getattr(fit, b) - fit.mean) * widen, floor) for b in _BOUNDS}
            ahead = {**key, "day": future, "expected": np.maximum(fit.mean, floor), **bounds}
            paths.append(pl.DataFrame(ahead, schema_overrides=DAILY_SCHEMA))
        models.append({**key, "model": fit.model, "history_days": len(y)})
    path_schema = {**DAILY_SCHEMA, "expected": pl.Float64, **dict.fromkeys(_BOUNDS, pl.Float64)}
    model_schema = {**{k: pl.String for k in KEYS}, "model": pl.String, "history_days": pl.Int32}
    if not paths:
        return pl.DataFrame(schema=path_schema), pl.DataFrame(schema=model_schema)
    return (
        pl.concat(paths, how="diagonal_relaxed").select(list(path_schema)).cast(path_schema),  # type: ignore[arg-type]
        pl.DataFrame(models, schema=model_schema),
    )


def month_end(
    filled: pl.DataFrame,
    lumps: pl.DataFrame,
    paths: pl.DataFrame,
    models: pl.DataFrame,
    *,
    as_of: date,
    period: date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(forecasts, month_path): month-end totals per series (FORECAST_COLUMNS) and each day's cost.

    month_path: KEYS, day, cost (Decimal: actual before as_of, forecast mean from it, plus unbooked
    month-level charges on the first forecast day) for every day of the period. Every series of
    ``filled`` gets a row, also one that has stopped (``run_forecast`` does not store those).
    """
    end = _next_month(period)
    days_in = (end - period).days
    elapsed = min(max((as_of - period).days, 0), days_in)
    first_ahead = max(as_of, period)
    in_period = (pl.col("day") >= period) & (pl.col("day") < end)
    ahead = paths.filter(in_period & (pl.col("day") >= as_of))
    zero = pl.lit(0).cast(MONEY)

    sums = ahead.group_by(KEYS).agg(pl.col("expected").sum().alias("ahead"), *(pl.col(b).sum() for b in _BOUNDS))
    before = paths.filter(in_period & (pl.col("day") < as_of)).group_by(KEYS).agg(pl.col("expected").sum().alias("e0"))
    mtd = filled.filter(in_period).group_by(KEYS).agg(pl.col("cost").sum().alias("mtd_actual"))
    booked = lumps.filter((pl.col("month") == period) & pl.lit(as_of > period)).select(*KEYS, booked="lump")
    expected = (
        lumps.filter(pl.col("month") < period).sort("month").group_by(KEYS).agg(pl.col("lump").last().alias("lump"))
    )
    rows = filled.select(KEYS).unique()
    for part in (models, sums, before, mtd, booked, expected):
        rows = join_keys(rows, part, KEYS)
    b, e = pl.col("booked").fill_null(zero), pl.col("lump")
    missing = pl.when(e.is_null() | (b.abs() * 2 >= e.abs())).then(zero).otherwise(e - b).cast(MONEY)
    share_lump = pl.coalesce("lump", "booked", zero).cast(pl.Float64)
    done = pl.col("e0").fill_null(0.0) + pl.when(pl.lit(elapsed > 0)).then(share_lump).otherwise(0.0)
    whole = done + pl.col("ahead").fill_null(0.0) + pl.when(pl.lit(elapsed > 0)).then(0.0).otherwise(share_lump)
    mtd_actual = pl.col("mtd_actual").fill_null(zero)
    rows = rows.with_columns(missing=missing).with_columns(
        made_on=pl.lit(as_of),
        period=pl.lit(period),
        days_elapsed=pl.lit(elapsed, pl.Int32),
        days_in_period=pl.lit(days_in, pl.Int32),
        mtd_actual=mtd_actual,
        month_level_expected=pl.col("lump"),
        month_level_booked=pl.col("booked"),
        point=(mtd_actual + pl.col("ahead").fill_null(0.0).cast(MONEY) + pl.col("missing")).cast(MONEY),
        **{b_: (mtd_actual + pl.col(b_).fill_null(0.0).cast(MONEY) + pl.col("missing")).cast(MONEY) for b_ in _BOUNDS},
        seasonal_share=pl.when(whole != 0).then(done / whole).when(pl.lit(elapsed == days_in)).then(1.0),
    )
    forecasts = rows.select(list(FORECAST_COLUMNS)).cast(FORECAST_COLUMNS)  # type: ignore[arg-type]

    grid = rows.select(*KEYS, "missing", day=pl.date_ranges(pl.lit(period), pl.lit(end - timedelta(days=1)))).explode(
        "day"
    )
    path = (
        join_keys(
            join_keys(grid, filled.select(*KEYS, "day", "cost"), [*KEYS, "day"]),
            ahead.select(*KEYS, "day", "expected"),
            [*KEYS, "day"],
        )
        .with_columns(
            cost=pl.when(pl.col("day") < as_of)
            .then(pl.col("cost").fill_null(zero))
            .otherwise(pl.col("expected").fill_null(0.0).cast(MONEY))
            + pl.when(pl.col("day") == first_ahead).then(pl.col("missing")).otherwise(zero)
        )
        .select(*KEYS, "day", pl.col("cost").cast(MONEY))
        .sort([*KEYS, "day"], nulls_last=False)
    )
    return forecasts.sort(["scope", "currency", "scope_value"], nulls_last=False), path


def forecast_month(
    daily: pl.DataFrame,
    *,
    as_of: date,
    period: date,
    model: ModelName = DEFAULT_MODEL,
    history_days: int = HISTORY_DAYS,
    outlier_k: float = OUTLIER_K,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(forecasts, month_path) of ``period`` (first day of a month) made on ``as_of``: pure.

    ``daily``: KEYS, day, EffectiveCost (Decimal); only days in [as_of − history_days, as_of) are
    used (and every day of the period before as_of). See the module docstring for the method and
    ``month_end`` for the outputs.
    """
    start = history_start(as_of, period, history_days)
    filled = fill_days(daily.filter(pl.col("day") >= start), as_of=as_of)
    model_input, lumps = split_month_level(filled)
    if outlier_k > 0:
        model_input = clean_outliers(model_input, k=outlier_k)
    paths, models = fit_paths(model_input, as_of=as_of, until=_next_month(period), model=model)
    return month_end(filled, lumps, paths, models, as_of=as_of, period=period)


# ---------------------------------------------------------------- warehouse


def default_as_of(conn: duckdb.DuckDBPyConnection) -> date | None:
    """The day after the latest complete day in billing and allocated_daily (None: no data)."""
    row = conn.execute(sql.load("analysis/forecast_as_of")).fetchone()
    return None if row is None else row[0]


def daily_series(conn: duckdb.DuckDBPyConnection, scopes: Sequence[Scope], *, start: date, as_of: date) -> pl.DataFrame:
    """Daily EffectiveCost per (scope, scope_value, currency) in [start, as_of) from allocated_daily."""
    params = {"scopes": list(scopes), "start": start, "as_of": as_of}
    frame = conn.execute(sql.load("analysis/forecast_daily"), params).pl()
    return frame.cast({"EffectiveCost": MONEY, "scope_value": pl.String})


@dataclass(frozen=True)
class ForecastResult:
    run_id: int
    made_on: date | None
    """as_of of the forecast; None when the warehouse had nothing to forecast (no rows stored)."""
    period: date | None
    forecasts: pl.DataFrame
    """The rows stored in ``forecasts`` (FORECAST_COLUMNS)."""
    budgets: pl.DataFrame
    """The rows stored in ``budget_status`` (budgets.BUDGET_COLUMNS)."""


def run_forecast(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    as_of: date | None = None,
    period: str | None = None,
    scopes: Sequence[Scope] = SCOPES,
    model: ModelName = DEFAULT_MODEL,
    history_days: int = HISTORY_DAYS,
) -> ForecastResult:
    """Forecast ``period`` ("YYYY-MM"; default: as_of's month) as of ``as_of`` and store it; budget status.

    as_of defaults to the day after the latest complete day (``default_as_of``), capped at the end
    of ``period``. Budgets (``settings.budgets``) in effect in the period are evaluated; their
    scopes are forecast even when not in ``scopes``. Replaces the ``forecasts`` rows of the same
    (made_on, period), then every ``budget_status`` row, each in one transaction, under one run.
    """
    with analysis_runs.recorded_run(conn) as run_id:
        made_on, month = _dates(conn, as_of, period)
        if made_on is None or month is None:
            log.info("forecast run_id=%d nothing to forecast (allocated_daily is empty)", run_id)
            empty = pl.DataFrame(schema=FORECAST_COLUMNS), pl.DataFrame(schema=BUDGET_COLUMNS)
            return ForecastResult(run_id, None, None, *empty)
        budgets = effective_budgets(settings.budgets, month)
        wanted = [s for s in SCOPES if s in scopes or any(b.scope == s for b in budgets)]
        start = history_start(made_on, month, history_days)
        daily = daily_series(conn, wanted, start=start, as_of=made_on)
        forecasts, path = forecast_month(daily, as_of=made_on, period=month, model=model, history_days=history_days)
        status = budget_status(budgets, forecasts, path, made_on=made_on, period=month)
        # A series that has stopped (no cost this period, a zero forecast) is not stored.
        live = (pl.col("mtd_actual") != 0) | (pl.col("point") != 0) | (pl.col("lo95") != 0) | (pl.col("hi95") != 0)
        stored = forecasts.filter(pl.col("scope").is_in(list(scopes)) & live)
        analysis_runs.replace_results(
            conn,
            "forecasts",
            stored,
            run_id=run_id,
            scope="made_on = $made_on AND period = $period",
            params={"made_on": made_on, "period": month},
        )
        analysis_runs.replace_results(conn, "budget_status", status, run_id=run_id)
    log.info(
        "forecast run_id=%d made_on=%s period=%s forecasts=%d budgets=%d",
        run_id,
        made_on,
        month,
        stored.height,
        status.height,
    )
    return ForecastResult(run_id, made_on, month, stored, status)


def _dates(conn: duckdb.DuckDBPyConnection, as_of: date | None, period: str | None) -> tuple[date | None, date | None]:
    month = _period_start(period).date() if period else None
    if as_of is None:
        as_of = default_as_of(conn)
        if as_of is None:
            return None, None
        if month is not None:
            as_of = min(as_of, _next_month(month))
    if month is None:
        month = as_of.replace(day=1)
    if as_of > _next_month(month):
        raise ConfigError(f"as_of {as_of} is after the end of period {month:%Y-%m}", source="forecast")
    return as_of, month


def forecast_accuracy(conn: duckdb.DuckDBPyConnection, *, scope: str | None = None) -> pl.DataFrame:
    """Stored forecasts of complete months against the month's actual total (sql/analysis/forecast_accuracy.sql)."""
    complete_before = default_as_of(conn)
    params = {"complete_before": complete_before or date(1970, 1, 1), "scope": scope}
    return conn.execute(sql.load("analysis/forecast_accuracy"), params).pl()


def accuracy_summary(rows: pl.DataFrame) -> pl.DataFrame:
    """Per scope and made_on day of month: forecasts, MAPE (%) and 80 % / 95 % interval coverage."""
    return (
        rows.group_by(["scope", "made_on_day"])
        .agg(
            pl.len().alias("forecasts"),
            pl.col("error_pct").abs().mean().alias("mape_pct"),
            pl.col("within80").mean().alias("coverage80"),
            pl.col("within95").mean().alias("coverage95"),
        )
        .sort(["scope", "made_on_day"])
    )


def parse_day(value: str, *, source: str) -> date:
    """'YYYY-MM-DD' as a date; ConfigError naming ``source`` (e.g. the CLI option) otherwise."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{value!r} is not a date YYYY-MM-DD", source=source) from None
