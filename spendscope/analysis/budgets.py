"""Monthly budgets (config ``[[budgets]]``) and their burn-rate status against the month-end forecast.

A budget caps the EffectiveCost of one scope in one currency per calendar month: the ``total`` of a
currency, or one ``team`` (as allocated), ``account`` (SubAccountId) or ``service`` (ServiceName).
The currency must be the one the scope is billed in: spendscope never converts (a mismatch is a
``ConfigError`` naming the budget). ``budget_status`` is pure; ``spendscope.analysis.forecast``
computes the forecasts it reads and stores its rows in ``budget_status``.

Status of a budget on ``made_on`` (the forecast's as_of; the days before it are actual):

- ``linear_pace`` = amount × days_elapsed / days_in_period; ``burn_ratio`` = mtd_actual / linear_pace;
- ``seasonal_pace`` = amount × the model's expected share of the month spent by made_on (weekly
  pattern and month-level charges), ``seasonal_burn_ratio`` = mtd_actual / seasonal_pace;
- ``exhaustion_date``: the first day on which cumulative actual, then actual + forecast (point),
  reaches the amount; NULL when it does not this month;
- ``status``: ``over`` (mtd_actual > amount), ``at_risk`` (forecast point > amount), ``ok``, or
  ``no_data`` (the scope had no cost in any currency in the forecast's history).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spendscope.errors import ConfigError

__all__ = ["BUDGET_COLUMNS", "Budget", "BudgetStatus", "Scope", "budget_status", "effective_budgets"]

Scope = Literal["total", "team", "account", "service"]
BudgetStatus = Literal["ok", "at_risk", "over", "no_data"]
MONEY = pl.Decimal(38, 12)
_QUANTUM = Decimal("1e-12")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

BUDGET_COLUMNS: dict[str, pl.DataType] = {
    "name": pl.String(),
    "made_on": pl.Date(),
    "period": pl.Date(),
    "scope": pl.String(),
    "scope_value": pl.String(),
    "currency": pl.String(),
    "amount": MONEY,
    "days_elapsed": pl.Int32(),
    "days_in_period": pl.Int32(),
    "mtd_actual": MONEY,
    "linear_pace": MONEY,
    "seasonal_pace": MONEY,
    "burn_ratio": pl.Float64(),
    "seasonal_burn_ratio": pl.Float64(),
    "forecast_point": MONEY,
    "forecast_lo80": MONEY,
    "forecast_hi80": MONEY,
    "forecast_lo95": MONEY,
    "forecast_hi95": MONEY,
    "exhaustion_date": pl.Date(),
    "status": pl.String(),
}
"""Columns of ``budget_status`` (the table, without run_id)."""


class Budget(BaseModel):
    """One monthly budget: ``amount`` of ``currency`` for a scope, in every month or the listed ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="unique name, e.g. 'payments-monthly'")
    scope: Scope = Field(description="total, team (allocated), account (SubAccountId) or service (ServiceName)")
    value: str | None = Field(default=None, description="the team, SubAccountId or ServiceName; omit for total")
    amount: Decimal = Field(gt=0, description="monthly amount in `currency`")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code the scope is billed in (no conversion)")
    months: list[str] = Field(default_factory=list, description='effective months "YYYY-MM"; empty: every month')

    @field_validator("months")
    @classmethod
    def _months(cls, months: list[str]) -> list[str]:
        bad = [m for m in months if not _MONTH.match(m)]
        if bad:
            raise ValueError(f"months must be YYYY-MM, got {', '.join(bad)}")
        return months

    @model_validator(mode="after")
    def _value_matches_scope(self) -> Budget:
        if self.scope == "total" and self.value is not None:
            raise ValueError(f"budget {self.name!r}: scope 'total' takes no value")
        if self.scope != "total" and not (self.value or "").strip():
            raise ValueError(f"budget {self.name!r}: scope {self.scope!r} needs a value")
        return self

    def applies_to(self, period: date) -> bool:
        return not self.months or period.strftime("%Y-%m") in self.months


def effective_budgets(budgets: Sequence[Budget], period: date) -> list[Budget]:
    """The budgets in effect in ``period`` (first day of a month); names must be unique."""
    seen: set[str] = set()
    for b in budgets:
        if b.name in seen:
            raise ConfigError(f"budget name {b.name!r} is used twice", source="budgets")
        seen.add(b.name)
    return [b for b in budgets if b.applies_to(period)]


def budget_status(
    budgets: Sequence[Budget], forecasts: pl.DataFrame, month_path: pl.DataFrame, *, made_on: date, period: date
) -> pl.DataFrame:
    """Status of each budget (BUDGET_COLUMNS) from the forecasts of one (made_on, period).

    ``forecasts`` has scope, scope_value, currency, days_elapsed, days_in_period, mtd_actual, point,
    lo80, hi80, lo95, hi95 and seasonal_share, one row per series with cost in the history;
    ``month_path`` has scope, scope_value, currency, day and cost (Decimal: actual before made_on,
    forecast point from it) for every day of the period. Raises ConfigError when a budget's scope is
    billed only in currencies other than the budget's.
    """
    rows = []
    for b in budgets:
        in_scope = forecasts.filter(
            (pl.col("scope") == b.scope) & pl.col("scope_value").eq_missing(pl.lit(b.value, pl.String))
        )
        mine = in_scope.filter(pl.col("currency") == b.currency)
        if in_scope.height and not mine.height:
            billed = ", ".join(sorted(in_scope["currency"].unique().to_list()))
            where = "the total" if b.scope == "total" else f"{b.scope} {b.value!r}"
            raise ConfigError(
                f"budget {b.name!r} is in {b.currency} but {where} is billed in {billed}; "
                "spendscope does not convert currencies",
                source="budgets",
            )
        rows.append(_status(b, mine.row(0, named=True) if mine.height else None, month_path, made_on, period))
    return pl.DataFrame(rows, schema=BUDGET_COLUMNS, orient="row")


def _status(
    b: Budget, fc: dict[str, object] | None, month_path: pl.DataFrame, made_on: date, period: date
) -> dict[str, object]:
    base: dict[str, object] = {
        "name": b.name,
        "made_on": made_on,
        "period": period,
        "scope": b.scope,
        "scope_value": b.value,
        "currency": b.currency,
        "amount": b.amount,
    }
    if fc is None:
        days = _days_in_month(period)
        elapsed = min(max((made_on - period).days, 0), days)
        return base | {
            "days_elapsed": elapsed,
            "days_in_period": days,
            "mtd_actual": Decimal(0),
            "linear_pace": _money(b.amount * elapsed / days),
            "status": "no_data",
        }
    elapsed, days = int(fc["days_elapsed"]), int(fc["days_in_period"])  # type: ignore[call-overload]
    mtd: Decimal = fc["mtd_actual"]  # type: ignore[assignment]
    point: Decimal = fc["point"]  # type: ignore[assignment]
    linear = _money(b.amount * elapsed / days)
    share = fc["seasonal_share"]
    seasonal = None if share is None else _money(b.amount * Decimal(float(share)))  # type: ignore[arg-type]
    path = month_path.filter(
        (pl.col("scope") == b.scope)
        & pl.col("scope_value").eq_missing(pl.lit(b.value, pl.String))
        & (pl.col("currency") == b.currency)
    ).sort("day")
    reached = path.filter(pl.col("cost").cum_sum() >= b.amount)
    status: BudgetStatus = "over" if mtd > b.amount else "at_risk" if point > b.amount else "ok"
    return base | {
        "days_elapsed": elapsed,
        "days_in_period": days,
        "mtd_actual": mtd,
        "linear_pace": linear,
        "seasonal_pace": seasonal,
        "burn_ratio": float(mtd / linear) if linear else None,
        "seasonal_burn_ratio": float(mtd / seasonal) if seasonal else None,
        "forecast_point": point,
        "forecast_lo80": fc["lo80"],
        "forecast_hi80": fc["hi80"],
        "forecast_lo95": fc["lo95"],
        "forecast_hi95": fc["hi95"],
        "exhaustion_date": reached["day"][0] if reached.height else None,
        "status": status,
    }


def _money(value: Decimal) -> Decimal:
    return value.quantize(_QUANTUM)


def _days_in_month(period: date) -> int:
    nxt = date(period.year + period.month // 12, period.month % 12 + 1, 1)
    return (nxt - period).days
