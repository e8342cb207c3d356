"""Schema drift: a provider adds, renames or retypes a column. Known drifts are mapped, unknown new columns land in
x_Extensions and are reported; an unknown rename of a cost column is refused. Cost is never silently dropped:
every accepted case is checked against its hand-computed total.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spendscope.collectors.focus import FocusFiles
from spendscope.errors import SchemaMismatch
from spendscope.pipeline import ingest

from ..conftest import rows, snapshot, write_csv, write_parquet

TALLY = {"tried": 0, "handled": 0}


def _retyped(column: str, array: Callable[[list[Any]], pa.Array]) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        p = write_parquet(d / "a.parquet", rows(2, BilledCost="0.10", ChargePeriodStart="2026-10-05T00:00:00Z"))
        table = pq.read_table(p)
        i = table.schema.get_field_index(column)
        pq.write_table(table.set_column(i, column, array(table.column(column).to_pylist())), p)
        return p

    return build


def _renamed(old: str, new: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        return write_csv(d / "a.csv", [{(new if k == old else k): v for k, v in r.items()} for r in rows(2)])

    return build


def _without(*columns: str) -> Callable[[Path], Path]:
    return lambda d: write_csv(d / "a.csv", [{k: v for k, v in r.items() if k not in columns} for r in rows(2)])


def _two_files_two_schemas(d: Path) -> Path:
    write_csv(d / "part-1.csv", rows(2))
    write_csv(d / "part-2.csv", rows(1, x_NewField="v2", BilledCost="4.00", ResourceId="i-2"))
    return d


CASES: dict[str, tuple[Callable[[Path], Path], Decimal | type[Exception], dict[str, Any]]] = {
    # name: (builder, expected BilledCost total or the refusal, x_Extensions keys / deviations expected)
    "added x_ column": (
        lambda d: write_csv(d / "a.csv", rows(2, x_DiscountProgram="edp")),
        Decimal("3.00"),  # 2 × 1.50
        {"extension": ("x_DiscountProgram", "edp")},
    ),
    "added unprefixed column": (
        lambda d: write_csv(d / "a.csv", rows(2, NewProviderField="abc")),
        Decimal("3.00"),
        {"extension": ("NewProviderField", "abc"), "deviation": "columns_without_x_prefix"},
    ),
    "renamed: case and spaces": (
        _renamed("BilledCost", " billedcost "),
        Decimal("3.00"),
        {"deviation": "columns_renamed"},
    ),
    "FOCUS 1.0: no PricingCurrency columns": (
        _without(
            "PricingCurrency",
            "PricingCurrencyEffectiveCost",
            "PricingCurrencyListUnitPrice",
            "PricingCurrencyContractedUnitPrice",
        ),
        Decimal("3.00"),
        {"deviation": "pricing_currency"},
    ),
    "renamed cost column, unknown name": (_renamed("BilledCost", "Billed Cost (USD)"), SchemaMismatch, {}),
    "renamed mandatory column, unknown name": (_renamed("ChargeCategory", "ChargeType"), SchemaMismatch, {}),
    "dropped mandatory column": (_without("BillingCurrency"), SchemaMismatch, {}),
    "cost as float64": (_retyped("BilledCost", lambda v: pa.array([0.1, 0.1], pa.float64())), Decimal("0.20"), {}),
    "cost as string": (_retyped("BilledCost", lambda v: pa.array(["0.10", "0.10"], pa.string())), Decimal("0.20"), {}),
    "cost as int64": (_retyped("BilledCost", lambda v: pa.array([3, 4], pa.int64())), Decimal("7"), {}),
    "cost as decimal(18,4)": (
        _retyped("BilledCost", lambda v: pa.array([Decimal("0.1000")] * 2, pa.decimal128(18, 4))),
        Decimal("0.20"),
        {},
    ),
    "time as string": (
        _retyped("ChargePeriodStart", lambda v: pa.array(["2026-10-05T00:00:00Z"] * 2, pa.string())),
        Decimal("0.20"),
        {},
    ),
    "time as local timestamp (no zone)": (
        _retyped("ChargePeriodStart", lambda v: pa.array([x.replace(tzinfo=None) for x in v], pa.timestamp("us"))),
        Decimal("0.20"),
        {},
    ),
    "tags as map": (
        _retyped("Tags", lambda v: pa.array([[("team", "payments")]] * 2, pa.map_(pa.string(), pa.string()))),
        Decimal("0.20"),
        {"tags": "payments"},
    ),
    "two files, two schemas": (
        _two_files_two_schemas,
        Decimal("7.00"),
        {"extension": ("x_NewField", "v2")},
    ),  # 3.00 + 4.00
}


@pytest.mark.parametrize("name", list(CASES))
def test_schema_drift(name: str, wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    build, expected, more = CASES[name]
    TALLY["tried"] += 1
    path = build(tmp_path / "in")
    if isinstance(expected, type):
        before = snapshot(wh)
        with pytest.raises(expected) as info:
            ingest(wh, FocusFiles([str(path)], source="s"))
        assert "\n" not in str(info.value) and str(path) in str(info.value), str(info.value)
        assert snapshot(wh) == before
        TALLY["handled"] += 1
        return
    result = ingest(wh, FocusFiles([str(path)], source="s"))
    got = wh.execute("SELECT sum(BilledCost), count(*) FROM billing").fetchone()
    assert got is not None and Decimal(got[0]) == expected, got
    assert got[1] == result.rows
    if "extension" in more:
        key, value = more["extension"]
        found = wh.execute("SELECT DISTINCT json_extract_string(x_Extensions, $k) FROM billing", {"k": f"$.{key}"})
        assert value in [r[0] for r in found.fetchall()]
    if "deviation" in more:
        assert any(more["deviation"] in dev for dev in result.deviations.values()), result.deviations
    if "tags" in more:
        team = wh.execute("SELECT DISTINCT json_extract_string(Tags, '$.team') FROM billing").fetchall()
        assert team == [(more["tags"],)]
    start = wh.execute("SELECT DISTINCT epoch(ChargePeriodStart) FROM billing").fetchall()
    assert start == [(1791158400.0,)] or name == "two files, two schemas"  # 2026-10-05T00:00:00Z
    TALLY["handled"] += 1


def test_zz_record_drift_figures(figures: dict[str, str]) -> None:
    figures["schema drifts handled / tried"] = f"{TALLY['handled']} / {TALLY['tried']}"
    assert TALLY["tried"] > 0
