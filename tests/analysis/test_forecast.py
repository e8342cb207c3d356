"""Month-end forecast and budgets: hand-built daily series (pure), then a hand-written bill through the warehouse.

Flat series take the ``constant`` model, whose forecast is exact, so month-end figures, paces and
exhaustion dates below are computed by hand; noisy and weekly series are checked within tolerances
that a wrong model (e.g. a flat mean for a weekly pattern) would miss.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from pydantic import ValidationError
from typer.testing import CliRunner

from spendscope.analysis.allocation import AllocationRules, run_allocation
from spendscope.analysis.budgets import Budget, budget_status
from spendscope.analysis.forecast import default_as_of, forecast_accuracy, forecast_month, run_forecast
from spendscope.cli import app
from spendscope.collectors.focus import FocusFiles
from spendscope.config import Settings, load_settings
from spendscope.errors import ConfigError
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse

from ..conftest import rows, write_csv

D = Decimal
SEP = date(2026, 9, 1)  # 30 days; Tuesday
OCT = date(2026, 10, 1)  # 31 days; Thursday


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _daily(
    values: Mapping[date, float], *, scope: str = "total", value: str | None = None, currency: str = "USD"
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "scope": [scope] * len(values),
            "scope_value": [value] * len(values),
            "currency": [currency] * len(values),
            "day": list(values),
            "EffectiveCost": [D(str(v)) for v in values.values()],
        },
        schema_overrides={"scope_value": pl.String, "EffectiveCost": pl.Decimal(38, 12)},
    )


def _flat(
    first: date, last: date, cost: float = 10, *, lump: float = 0, skip_lump: date | None = None
) -> dict[date, float]:
    """``cost`` a day; ``lump`` more on each 1st of the month (a month-level charge) except ``skip_lump``."""
    return {d: cost + (lump if d.day == 1 and d != skip_lump else 0) for d in _days(first, last)}


def _one(frame: pl.DataFrame, **where: Any) -> dict[str, Any]:
    for k, v in where.items():
        frame = frame.filter(pl.col(k).eq_missing(pl.lit(v)))
    assert frame.height == 1, frame
    return frame.row(0, named=True)


# ---- the forecast, pure


def test_flat_series_forecasts_flat_and_exactly_when_constant() -> None:
    noise = np.random.default_rng(7).normal(0, 0.2, 72).round(4)
    noisy = {d: 10 + float(n) for d, n in zip(_days(date(2026, 7, 1), date(2026, 9, 10)), noise, strict=True)}
    fc, _ = forecast_month(_daily(noisy), as_of=date(2026, 9, 11), period=SEP)
    row = _one(fc)
    mtd = sum(D(str(v)) for d, v in noisy.items() if d >= SEP)  # Sept 1-10 as written
    assert row["mtd_actual"] == mtd
    # 20 days left at about 10 a day: 200, within 2 %.
    assert abs(row["point"] - mtd - 200) < 4, row
    assert row["model"].startswith("MSTL"), row["model"]
    assert row["lo95"] <= row["lo80"] < row["point"] < row["hi80"] <= row["hi95"]

    fc, _ = forecast_month(_daily(_flat(date(2026, 7, 1), date(2026, 9, 10))), as_of=date(2026, 9, 11), period=SEP)
    row = _one(fc)
    # Constant 10 a day: 10 days actual (100) + 20 forecast (200); no uncertainty.
    assert (row["mtd_actual"], row["point"], row["lo95"], row["hi95"]) == (D(100), D(300), D(300), D(300))
    assert row["model"] == "constant"
    assert (row["days_elapsed"], row["days_in_period"]) == (10, 30)


def test_pure_weekly_pattern_is_forecast_by_weekday() -> None:
    # Weekdays 100, weekends 20 (Mon=0 … Sun=6), with a little noise, from July 1 to Oct 23.
    noise = iter(np.random.default_rng(3).normal(0, 0.5, 200).round(4))
    series = {
        d: (20 if d.weekday() >= 5 else 100) + float(next(noise)) for d in _days(date(2026, 7, 1), date(2026, 10, 23))
    }
    fc, path = forecast_month(_daily(series), as_of=date(2026, 10, 24), period=OCT)
    ahead = dict(path.filter(pl.col("day") >= date(2026, 10, 24)).select("day", "cost").iter_rows())
    for day, cost in ahead.items():
        expected = 20 if day.weekday() >= 5 else 100
        assert abs(cost - expected) < 3, (day, cost)
    # Oct 24-31: Sat, Sun, 5 weekdays, Sat = 3 × 20 + 5 × 100 = 560 (a flat mean would say 8 × 77 = 617).
    row = _one(fc)
    mtd = sum(D(str(v)) for d, v in series.items() if d >= OCT)
    assert abs(row["point"] - mtd - 560) < 10
    # Expected share spent by Oct 24: Oct 1-23 has 17 weekdays and 6 weekend days = 1820 of 1820 + 560.
    assert abs(row["seasonal_share"] - 1820 / 2380) < 0.005, row["seasonal_share"]  # linear: 23/31 = 0.742


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    level=st.floats(1, 5000),
    spread=st.floats(0.01, 0.5),
    days=st.integers(3, 80),
    seed=st.integers(0, 2**16),
)
def test_interval_contains_the_point(level: float, spread: float, days: int, seed: int) -> None:
    values = level * (1 + np.random.default_rng(seed).normal(0, spread, days))
    series = {date(2026, 9, 20) - timedelta(days=days - i): round(float(v), 4) for i, v in enumerate(values)}
    row = _one(forecast_month(_daily(series), as_of=date(2026, 9, 20), period=SEP)[0])
    assert row["lo95"] <= row["lo80"] <= row["point"] <= row["hi80"] <= row["hi95"], row
    if days < 14:
        assert row["model"].startswith(f"HistoricAverage (history {days} d < 14 d)"), row["model"]


def test_a_spike_before_as_of_is_not_the_new_level_but_a_lasting_shift_is() -> None:
    noise = iter(np.random.default_rng(5).normal(0, 1, 200).round(4))
    base = {d: 100 + float(next(noise)) for d in _days(date(2026, 7, 1), date(2026, 9, 19))}
    calm = _one(forecast_month(_daily(base), as_of=date(2026, 9, 20), period=SEP)[0])
    for spike_days in ([date(2026, 9, 19)], [date(2026, 9, 18), date(2026, 9, 19)]):
        spiked = {**base, **dict.fromkeys(spike_days, 1000.0)}
        row = _one(forecast_month(_daily(spiked), as_of=date(2026, 9, 20), period=SEP)[0])
        mtd = sum(D(str(v)) for d, v in spiked.items() if d >= SEP)
        # 11 days left at about 100: 1100 (within 3 %); the spike is counted once, in the actual.
        assert abs(row["point"] - mtd - 1100) < 33, (spike_days, row)
        assert row["hi95"] - row["lo95"] > calm["hi95"] - calm["lo95"]  # spikes happen: a wider interval
    # 100 → 150 five days before as_of: a level shift, forecast at about 150 a day (1650, within 5 %).
    shifted = {d: v + (50 if d >= date(2026, 9, 15) else 0) for d, v in base.items()}
    row = _one(forecast_month(_daily(shifted), as_of=date(2026, 9, 20), period=SEP)[0])
    mtd = sum(D(str(v)) for d, v in shifted.items() if d >= SEP)
    assert abs(row["point"] - mtd - 1650) < 83, row


def test_as_of_excludes_later_data() -> None:
    before = _flat(date(2026, 7, 1), date(2026, 9, 10))
    later = {**before, date(2026, 9, 11): 5000, date(2026, 9, 12): 7000, date(2026, 10, 3): 1}
    got = forecast_month(_daily(later), as_of=date(2026, 9, 11), period=SEP)
    want = forecast_month(_daily(before), as_of=date(2026, 9, 11), period=SEP)
    assert_frame_equal(got[0], want[0])
    assert_frame_equal(got[1], want[1])
    assert _one(got[0])["point"] == D(300)


def test_currencies_are_kept_apart() -> None:
    usd = _daily(_flat(date(2026, 7, 1), date(2026, 9, 10), 10))
    eur = _daily(_flat(date(2026, 7, 1), date(2026, 9, 10), 1000), currency="EUR")
    fc, _ = forecast_month(pl.concat([usd, eur]), as_of=date(2026, 9, 11), period=SEP)
    assert fc.height == 2
    assert _one(fc, currency="USD")["point"] == D(300)  # 30 × 10
    assert _one(fc, currency="EUR")["point"] == D(30000)  # 30 × 1000


def test_month_level_charges_booked_or_carried() -> None:
    # 10 a day and a 60 charge on each 1st (e.g. support): day 1 is 70.
    booked = _one(
        forecast_month(
            _daily(_flat(date(2026, 7, 1), date(2026, 9, 10), lump=60)), as_of=date(2026, 9, 11), period=SEP
        )[0]
    )
    # Sept 1-10 actual 100 + 60; 20 days at 10 ahead; the 60 is booked: 360.
    assert (booked["mtd_actual"], booked["point"], booked["model"]) == (D(160), D(360), "constant")
    assert (booked["month_level_expected"], booked["month_level_booked"]) == (D(60), D(60))
    # The charge has not arrived for September yet: the August one (60) is carried: 100 + 200 + 60.
    late = _daily(_flat(date(2026, 7, 1), date(2026, 9, 10), lump=60, skip_lump=SEP))
    carried = _one(forecast_month(late, as_of=date(2026, 9, 11), period=SEP)[0])
    assert (carried["mtd_actual"], carried["point"], carried["month_level_booked"]) == (D(100), D(360), D(0))
    # Made on Oct 1 for October: nothing elapsed, 31 × 10 + 60.
    ahead = _one(forecast_month(_daily(_flat(date(2026, 7, 1), date(2026, 9, 30), lump=60)), as_of=OCT, period=OCT)[0])
    assert (ahead["mtd_actual"], ahead["point"], ahead["seasonal_share"]) == (D(0), D(370), 0.0)


# ---- budgets, pure


def _budget(name: str, amount: str, scope: str = "total", value: str | None = None, currency: str = "USD") -> Budget:
    return Budget(name=name, scope=scope, value=value, amount=D(amount), currency=currency)  # type: ignore[arg-type]


def test_budget_status_for_a_hand_built_month() -> None:
    fc, path = forecast_month(
        _daily(_flat(date(2026, 7, 1), date(2026, 9, 10), lump=60)), as_of=date(2026, 9, 11), period=SEP
    )
    budgets = [
        _budget("tight", "250"),
        _budget("blown", "150"),
        _budget("roomy", "400"),
        _budget("ghost", "5", "team", "nobody"),
    ]
    status = budget_status(budgets, fc, path, made_on=date(2026, 9, 11), period=SEP)
    tight = _one(status, name="tight")
    # mtd 160 (Sept 1: 70, Sept 2-10: 9 × 10); 10 of 30 days elapsed.
    assert tight["mtd_actual"] == D(160)
    assert tight["linear_pace"] == D("83.333333333333")  # 250 × 10 / 30
    assert tight["burn_ratio"] == pytest.approx(160 / (250 * 10 / 30))  # 1.92
    # Expected month: 30 × 10 + 60 on day 1 = 360; by Sept 11: 100 + 60 = 160, a share of 4/9.
    assert tight["seasonal_pace"] == D("111.111111111111")  # 250 × 4 / 9
    assert tight["seasonal_burn_ratio"] == pytest.approx(160 / (250 * 4 / 9))
    assert tight["forecast_point"] == D(360)
    # Cumulative: Sept 1 70, then +10 a day: 70 + 10 × 18 = 250 on Sept 19.
    assert (tight["exhaustion_date"], tight["status"]) == (date(2026, 9, 19), "at_risk")
    blown = _one(status, name="blown")
    assert (blown["exhaustion_date"], blown["status"]) == (date(2026, 9, 9), "over")  # 70 + 80 = 150 on Sept 9
    roomy = _one(status, name="roomy")
    assert (roomy["exhaustion_date"], roomy["status"]) == (None, "ok")  # 360 < 400
    ghost = _one(status, name="ghost")
    assert (ghost["status"], ghost["mtd_actual"], ghost["forecast_point"]) == ("no_data", D(0), None)


def test_budget_in_another_currency_is_a_config_error() -> None:
    fc, path = forecast_month(_daily(_flat(date(2026, 7, 1), date(2026, 9, 10))), as_of=date(2026, 9, 11), period=SEP)
    with pytest.raises(ConfigError, match=r"budget 'gbp-total' is in GBP but the total is billed in USD"):
        budget_status([_budget("gbp-total", "100", currency="GBP")], fc, path, made_on=date(2026, 9, 11), period=SEP)


def test_budget_config_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="needs a value"):
        Budget(name="b", scope="team", amount=D(1), currency="USD")
    with pytest.raises(ValidationError, match="takes no value"):
        Budget(name="b", scope="total", value="x", amount=D(1), currency="USD")
    with pytest.raises(ValidationError, match="YYYY-MM"):
        Budget(name="b", scope="total", amount=D(1), currency="USD", months=["2026-13"])
    cfg = tmp_path / "s.toml"
    cfg.write_text('[[budgets]]\nname = "b"\nscope = "total"\namount = "10"\ncurrency = "USD"\nlimit = 3\n')
    with pytest.raises(ConfigError, match=r"unknown key 'budgets.0.limit'; valid keys here: amount, currency, months"):
        load_settings(cfg)
    cfg.write_text('[[budgets]]\nname = "b"\nscope = "team"\nvalue = "payments"\namount = "10.50"\ncurrency = "EUR"\n')
    assert load_settings(cfg).budgets == [
        Budget(name="b", scope="team", value="payments", amount=D("10.5"), currency="EUR")
    ]


# ---- through the warehouse


def _bill(tmp_path: Path) -> Path:
    """USD, team payments: 10 a day Aug 1 - Sept 20, 20 a day Sept 21-30 (Sept total 200 + 200 = 400)."""
    data = []
    for day in _days(date(2026, 8, 1), date(2026, 9, 30)):
        month = day.replace(day=1)
        nxt = date(month.year, month.month + 1, 1)
        cost = "20.00" if day >= date(2026, 9, 21) else "10.00"
        data += rows(
            1,
            ResourceId=f"i-{day:%m%d}",
            BilledCost=cost,
            EffectiveCost=cost,
            BillingPeriodStart=f"{month}T00:00:00Z",
            BillingPeriodEnd=f"{nxt}T00:00:00Z",
            ChargePeriodStart=f"{day}T00:00:00Z",
            ChargePeriodEnd=f"{day + timedelta(days=1)}T00:00:00Z",
        )
    return write_csv(tmp_path / "bill.csv", data)


def _load(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    ingest(conn, FocusFiles([str(_bill(tmp_path))], source="bill"))
    run_allocation(conn, AllocationRules())


def test_forecasts_are_kept_per_made_on_and_rated_once_the_month_is_complete(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    _load(wh, tmp_path)
    assert default_as_of(wh) == OCT  # the last daily row ends at Oct 1 00:00
    cfg = Settings(budgets=[_budget("payments", "350", "team", "payments")])
    first = run_forecast(wh, cfg, as_of=date(2026, 9, 11))
    run_forecast(wh, cfg, as_of=date(2026, 9, 21))
    again = run_forecast(wh, cfg, as_of=date(2026, 9, 11))  # replaces the Sept 11 rows only
    stored = wh.execute(
        "SELECT made_on, scope, scope_value, mtd_actual, point, run_id FROM forecasts ORDER BY made_on, scope"
    ).fetchall()
    # total, team payments, account 444455556666, service Amazon EC2 on each made_on; 10 a day until Sept 20.
    assert [(r[0], r[1], r[3], r[4]) for r in stored] == [
        (date(2026, 9, 11), s, D(100), D(300)) for s in ("account", "service", "team", "total")
    ] + [(date(2026, 9, 21), s, D(200), D(300)) for s in ("account", "service", "team", "total")]
    assert {r[5] for r in stored if r[0] == date(2026, 9, 11)} == {again.run_id} != {first.run_id}
    assert wh.execute("SELECT name, mtd_actual, forecast_point, status FROM budget_status").fetchall() == [
        ("payments", D(100), D(300), "ok")
    ]
    # September is complete (as_of Oct 1): actual 400, both forecasts said 300: -25 %.
    acc = forecast_accuracy(wh, scope="total")
    assert acc.select("made_on_day", "actual", "error_pct").rows() == [(11, D(400), -25.0), (21, D(400), -25.0)]
    # Made without as_of: Oct 1 for October, 20 a day is now the level (MSTL, not hand-computed).
    latest = run_forecast(wh, cfg)
    assert (latest.made_on, latest.period) == (OCT, OCT)
    assert wh.execute("SELECT count(*) FROM budget_status WHERE made_on = $d", {"d": OCT}).fetchone() == (1,)


def test_a_failed_run_is_recorded_and_keeps_earlier_rows(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _load(wh, tmp_path)
    run_forecast(wh, Settings(), as_of=date(2026, 9, 11))
    with pytest.raises(ConfigError, match="budget 'eur'"):
        run_forecast(wh, Settings(budgets=[_budget("eur", "5", currency="EUR")]), as_of=date(2026, 9, 21))
    assert wh.execute("SELECT status FROM analysis_runs ORDER BY run_id DESC LIMIT 1").fetchone() == ("failed",)
    assert wh.execute("SELECT DISTINCT made_on FROM forecasts").fetchall() == [(date(2026, 9, 11),)]


def test_cli_forecast_accuracy_and_budgets(tmp_path: Path) -> None:
    path = tmp_path / "cli.duckdb"
    conn = open_warehouse(path)
    _load(conn, tmp_path)
    conn.close()
    cfg = tmp_path / "s.toml"
    cfg.write_text('[[budgets]]\nname = "all-usd"\nscope = "total"\namount = "250"\ncurrency = "USD"\n')
    runner = CliRunner()
    base = ["--config", str(cfg), "--warehouse", str(path)]
    made = runner.invoke(app, [*base, "forecast", "--run", "--as-of", "2026-09-11", "--format", "json"])
    assert made.exit_code == 0, made.output
    shown = json.loads(made.stdout)
    assert [(r["scope"], r["made_on"], r["point"]) for r in shown] == [("total", "2026-09-11", 300.0)]
    budgets = runner.invoke(app, [*base, "budgets", "--format", "json"])
    assert budgets.exit_code == 0, budgets.output
    # 100 spent by Sept 11, 300 forecast: at risk; 10 a day reaches 250 on Sept 25.
    assert [(b["name"], b["status"], b["exhaustion_date"]) for b in json.loads(budgets.stdout)] == [
        ("all-usd", "at_risk", "2026-09-25")
    ]
    acc = runner.invoke(app, [*base, "forecast", "--accuracy", "--format", "json"])
    assert acc.exit_code == 0, acc.output
    assert [(r["made_on_day"], r["error_pct"]) for r in json.loads(acc.stdout)] == [(11, -25.0)]
    table = runner.invoke(app, [*base, "forecast", "--accuracy"])
    assert table.exit_code == 0 and "MAPE" in table.stdout, table.output
    bad = runner.invoke(app, [*base, "forecast", "--as-of", "2026-09-31"])
    assert bad.exit_code == 1 and "is not a date" in bad.output
