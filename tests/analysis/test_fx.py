"""Reporting currency: effective-dated rates by hand, identity, the errors a user meets, an invariant with
hypothesis, and the converted columns of allocated_daily and `spendscope costs --reporting-currency`."""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from pydantic import ValidationError
from typer.testing import CliRunner

from spendscope.analysis.allocation import AllocationRules, run_allocation
from spendscope.analysis.costs import cost_by, parse_dimensions
from spendscope.analysis.fx import CurrencySettings, convert, load_reporting, read_rates, run_fx, stored_rates
from spendscope.cli import app
from spendscope.collectors.focus import FocusFiles
from spendscope.config import load_settings
from spendscope.errors import ConfigError
from spendscope.pipeline import ingest

from ..conftest import rows, write_csv

D = Decimal
MONEY = pl.Decimal(38, 12)
RATES = "currency,rate,effective_from\nUSD,0.90,2026-01-01\nUSD,0.92,2026-10-15\nGBP,1.15,2026-10-10\n"


def _rates(tmp_path: Path, text: str = RATES, name: str = "rates.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _frame(days: list[date], currencies: list[str], amounts: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"day": days, "cur": currencies, "cost": [D(a) for a in amounts]}, schema_overrides={"cost": MONEY}
    )


def test_a_day_uses_the_latest_rate_in_effect(tmp_path: Path) -> None:
    rates = read_rates(_rates(tmp_path), reporting="EUR")
    frame = _frame(
        [date(2026, 10, 14), date(2026, 10, 15), date(2026, 11, 30), date(2026, 10, 10)],
        ["USD", "USD", "USD", "GBP"],
        ["10", "10", "2.50", "4"],
    )
    out = convert(frame, rates, reporting="EUR", day_col="day", currency_col="cur", money_cols=["cost"])
    assert out.columns == ["day", "cur", "cost", "reporting_currency", "cost_reporting"]
    assert out.get_column("cost").to_list() == frame.get_column("cost").to_list()  # originals kept
    assert out.get_column("reporting_currency").to_list() == ["EUR"] * 4
    assert out.get_column("cost_reporting").to_list() == [
        D("9"),  # 10 × 0.90: the 0.92 rate starts the next day
        D("9.2"),  # 10 × 0.92 from 2026-10-15
        D("2.3"),  # 2.50 × 0.92, still in effect
        D("4.6"),  # 4 × 1.15 on its first day
    ]


def test_the_reporting_currency_converts_at_one_without_a_rate_row() -> None:
    frame = _frame([date(2020, 1, 1), date(2026, 10, 5)], ["EUR", "EUR"], ["1.234567890123", "-7"])
    empty = pl.DataFrame(schema={"currency": pl.String, "rate": MONEY, "effective_from": pl.Date})
    out = convert(frame, empty, reporting="EUR", day_col="day", currency_col="cur", money_cols=["cost"])
    assert out.get_column("cost_reporting").to_list() == [D("1.234567890123"), D("-7")]
    assert out.get_column("reporting_currency").to_list() == ["EUR", "EUR"]


def test_a_missing_rate_names_the_currency_and_the_first_day(tmp_path: Path) -> None:
    path = _rates(tmp_path)
    rates = read_rates(path, reporting="EUR")
    frame = _frame([date(2026, 10, 9), date(2026, 10, 3), date(2026, 10, 12)], ["GBP", "GBP", "GBP"], ["1", "1", "1"])
    with pytest.raises(ConfigError) as info:
        convert(frame, rates, reporting="EUR", day_col="day", currency_col="cur", money_cols=["cost"], source=str(path))
    message = str(info.value)
    assert "GBP" in message and "2026-10-03" in message and str(path) in message
    assert "\n" not in message
    with pytest.raises(ConfigError, match="JPY"):  # a currency with no row at all
        convert(
            _frame([date(2026, 10, 9)], ["JPY"], ["1"]),
            rates,
            reporting="EUR",
            day_col="day",
            currency_col="cur",
            money_cols=["cost"],
        )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("currency,rate\nUSD,0.9\n", "columns currency,rate,effective_from"),
        ("currency,rate,effective_from\nUSD,abc,2026-01-01\n", "line 2: rate is not a positive decimal ('abc')"),
        ("currency,rate,effective_from\nUSD,0.9,2026-01-01\nUSD,-1,2026-02-01\n", "line 3: rate is not a positive"),
        ("currency,rate,effective_from\nUSD,0.9,2026-13-01\n", "line 2: effective_from is not a YYYY-MM-DD date"),
        ("currency,rate,effective_from\nUSD,0.9,2026-01-01\nXYZ,2,2026-01-01\n", "line 3: 'XYZ' is not an ISO 4217"),
        ("currency,rate,effective_from\nusd,0.9,2026-01-01\n", "'usd' is not an ISO 4217"),
        ("currency,rate,effective_from\nUSD,0.9,2026-01-01\nUSD,0.8,2026-01-01\n", "line 3: a second rate for USD"),
        ("currency,rate,effective_from\nEUR,0.9,2026-01-01\n", "line 2: the reporting currency EUR converts at 1"),
        ("currency,rate,effective_from\nUSD,0.9,2026-01-01,extra\n", "cannot read FX rates"),
    ],
)
def test_a_bad_rates_file_is_one_line_naming_the_file(tmp_path: Path, text: str, problem: str) -> None:
    path = _rates(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        read_rates(path, reporting="EUR")
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message


def test_a_missing_rates_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FX rates file not found"):
        load_reporting(CurrencySettings(reporting="EUR", fx_rates=tmp_path / "nope.csv"))


def test_the_config_section(tmp_path: Path) -> None:
    rates = _rates(tmp_path)
    cfg = tmp_path / "spendscope.toml"
    cfg.write_text(f'[currency]\nreporting = "EUR"\nfx_rates = "{rates}"\n')
    settings = load_settings(cfg)
    assert settings.currency == CurrencySettings(reporting="EUR", fx_rates=rates)
    cfg.write_text('[currency]\nreporting = "EUR"\nrates = "x.csv"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'currency\.rates'; valid keys here: fx_rates, reporting"):
        load_settings(cfg)
    with pytest.raises(ValidationError, match="not an ISO 4217"):
        CurrencySettings(reporting="eur")
    with pytest.raises(ValidationError, match="fx_rates needs reporting"):
        CurrencySettings(fx_rates=rates)


def _lookup(table: dict[str, list[tuple[date, Decimal]]], currency: str, day: date) -> Decimal:
    """The rate by hand: the last (effective_from, rate) at or before day."""
    if currency == "EUR":
        return D(1)
    entries = table[currency]
    i = bisect.bisect_right([d for d, _ in entries], day) - 1
    return entries[i][1]


_AMOUNT = st.decimals(min_value=D("-100000"), max_value=D("100000"), places=4, allow_nan=False, allow_infinity=False)
_RATE = st.decimals(min_value=D("0.0001"), max_value=D("500"), places=6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.lists(
        st.tuples(st.sampled_from(["USD", "GBP", "EUR"]), st.integers(0, 59), _AMOUNT), min_size=1, max_size=40
    ),
    usd=st.lists(st.tuples(st.integers(1, 59), _RATE), max_size=4, unique_by=lambda t: t[0]),
    gbp=st.lists(st.tuples(st.integers(1, 59), _RATE), max_size=4, unique_by=lambda t: t[0]),
    first=st.tuples(_RATE, _RATE),
)
def test_converted_sum_per_day_is_the_sum_of_amount_times_that_days_rate(
    data: list[tuple[str, int, Decimal]],
    usd: list[tuple[int, Decimal]],
    gbp: list[tuple[int, Decimal]],
    first: tuple[Decimal, Decimal],
) -> None:
    start = date(2026, 10, 1)
    table = {
        cur: sorted([(start, r0)] + [(start + timedelta(days=k), r) for k, r in changes])
        for cur, r0, changes in (("USD", first[0], usd), ("GBP", first[1], gbp))
    }
    rates = pl.DataFrame(
        [(cur, r, d) for cur, entries in table.items() for d, r in entries],
        schema={"currency": pl.String, "rate": MONEY, "effective_from": pl.Date},
        orient="row",
    )
    frame = _frame([start + timedelta(days=k) for _, k, _ in data], [c for c, _, _ in data], [str(a) for *_, a in data])
    out = convert(frame, rates, reporting="EUR", day_col="day", currency_col="cur", money_cols=["cost"])
    got = out.group_by("day", "cur").agg(pl.col("cost_reporting").sum(), pl.col("cost").sum())
    expected: dict[tuple[date, str], Decimal] = {}
    for cur, k, amount in data:
        day = start + timedelta(days=k)
        # amounts have 4 places and rates 6: each product is exact at 12 places, so sums match exactly
        expected[(day, cur)] = expected.get((day, cur), D(0)) + amount * _lookup(table, cur, day)
    assert {(d, c): v for d, c, v, _ in got.iter_rows()} == expected
    assert out.get_column("cost").sum() == sum((a for *_, a in data), D(0))  # originals untouched


# ------------------------------------------------------------------ stored rates and their readers


def _bill(tmp_path: Path) -> Path:
    # USD 10.00 on 10-05 and 10.00 on 10-20; EUR 7.00 on 10-05 (team payments, EC2)
    data = rows(
        2,
        ResourceId=lambda i: f"r-{i}",
        BilledCost="10.00",
        EffectiveCost="10.00",
        ChargePeriodStart=lambda i: f"2026-10-{5 + 15 * i:02d}T00:00:00Z",
        ChargePeriodEnd=lambda i: f"2026-10-{5 + 15 * i:02d}T01:00:00Z",
    ) + rows(
        1, ResourceId="r-eur", BillingCurrency="EUR", PricingCurrency="EUR", BilledCost="7.00", EffectiveCost="7.00"
    )
    return write_csv(tmp_path / "bill.csv", data)


def test_allocated_daily_gets_reporting_columns_beside_the_original(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    ingest(wh, FocusFiles([str(_bill(tmp_path))], source="bill"))
    rules = AllocationRules()
    run_allocation(wh, rules)
    assert wh.execute("SELECT count(*) FROM allocated_daily WHERE reporting_currency IS NOT NULL").fetchone() == (0,)
    stored = run_fx(wh, CurrencySettings(reporting="EUR", fx_rates=_rates(tmp_path)))
    back = stored_rates(wh)
    assert stored is not None and back is not None
    assert (back.reporting, back.source) == ("EUR", str(tmp_path / "rates.csv"))
    assert_frame_equal(back.rates, stored.rates)  # the CSV's three rows; the identity row is implied
    run_allocation(wh, rules)
    got = wh.execute(
        "SELECT day, currency, EffectiveCost, reporting_currency, EffectiveCost_reporting, BilledCost_reporting "
        "FROM allocated_daily ORDER BY day, currency"
    ).fetchall()
    assert got == [
        (date(2026, 10, 5), "EUR", D("7"), "EUR", D("7"), D("7")),  # identity
        (date(2026, 10, 5), "USD", D("10"), "EUR", D("9"), D("9")),  # 10 × 0.90
        (date(2026, 10, 20), "USD", D("10"), "EUR", D("9.2"), D("9.2")),  # 10 × 0.92 from 10-15
    ]
    # Without a reporting currency the next runs store nulls again.
    run_fx(wh, CurrencySettings())
    assert stored_rates(wh) is None
    run_allocation(wh, rules)
    assert wh.execute("SELECT count(*) FROM allocated_daily WHERE reporting_currency IS NOT NULL").fetchone() == (0,)


def test_a_missing_rate_fails_the_allocation_run_and_keeps_the_previous_rows(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    ingest(wh, FocusFiles([str(_bill(tmp_path))], source="bill"))
    first = run_allocation(wh, AllocationRules())
    run_fx(wh, CurrencySettings(reporting="GBP", fx_rates=_rates(tmp_path, "currency,rate,effective_from\n")))
    with pytest.raises(ConfigError, match="no FX rate from EUR to GBP on 2026-10-05"):
        run_allocation(wh, AllocationRules())
    assert wh.execute("SELECT DISTINCT run_id FROM allocated_daily").fetchall() == [(first.run_id,)]
    status = wh.execute("SELECT status FROM analysis_runs ORDER BY run_id DESC LIMIT 1").fetchone()
    assert status == ("failed",)


def test_costs_with_a_reporting_currency(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    ingest(wh, FocusFiles([str(_bill(tmp_path))], source="bill"))
    reporting = load_reporting(CurrencySettings(reporting="EUR", fx_rates=_rates(tmp_path)))
    frame = cost_by(wh, parse_dimensions("ProviderName"), reporting=reporting)
    got = {r["BillingCurrency"]: r for r in frame.iter_rows(named=True)}
    assert set(got) == {"USD", "EUR"}  # never summed across currencies
    assert got["USD"]["EffectiveCost"] == D("20")
    assert got["USD"]["EffectiveCost_reporting"] == D("18.2")  # 10 × 0.90 + 10 × 0.92
    assert got["EUR"]["BilledCost_reporting"] == D("7")
    assert {r["reporting_currency"] for r in got.values()} == {"EUR"}
    plain = cost_by(wh, parse_dimensions("ProviderName"))
    assert "EffectiveCost_reporting" not in plain.columns


def test_cli_costs_reporting_currency(tmp_path: Path) -> None:
    from spendscope.warehouse.db import open_warehouse

    path = tmp_path / "wh.duckdb"
    conn = open_warehouse(path)
    try:
        ingest(conn, FocusFiles([str(_bill(tmp_path))], source="bill"))
    finally:
        conn.close()
    cfg = tmp_path / "spendscope.toml"
    cfg.write_text(f'[currency]\nreporting = "EUR"\nfx_rates = "{_rates(tmp_path)}"\n')
    runner = CliRunner()
    args: list[Any] = ["--config", str(cfg), "--warehouse", str(path), "costs", "--by", "ServiceName"]
    result = runner.invoke(app, [*args, "--reporting-currency", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"EffectiveCost_reporting": 18.2' in result.stdout
    cfg.write_text("")
    result = runner.invoke(app, [*args, "--reporting-currency"])
    assert result.exit_code == 1
    assert "needs the config's currency section" in result.output
