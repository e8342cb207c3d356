"""Bad input is refused with one line naming the file (and column), and the warehouse is unchanged."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest

from spendscope.collectors.focus import FocusFiles
from spendscope.errors import BadData, SchemaMismatch, SpendscopeError, UnknownCurrency
from spendscope.pipeline import ingest

from .conftest import rows, snapshot, write_csv, write_parquet


@pytest.fixture
def loaded(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A warehouse already holding October from source 's' (the state that must survive)."""
    ingest(wh, FocusFiles([str(write_csv(tmp_path / "good" / "oct.csv", rows(3)))], source="s"))
    return wh


def _refused(conn: duckdb.DuckDBPyConnection, path: Path, error: type[SpendscopeError], *match: str) -> str:
    before = snapshot(conn)
    with pytest.raises(error) as info:
        ingest(conn, FocusFiles([str(path)], source="s"))
    message = str(info.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    for m in match:
        assert m in message, message
    assert snapshot(conn) == before
    failed = conn.execute("SELECT count(*) FROM ingests WHERE status = 'failed'").fetchone()
    assert failed == (1,)
    return message


def test_missing_mandatory_column(loaded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    data = [{k: v for k, v in r.items() if k != "BilledCost"} for r in rows(2)]
    _refused(loaded, write_csv(tmp_path / "oct.csv", data), SchemaMismatch, "BilledCost", "missing mandatory")


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", "-Infinity", "1,50"])
def test_non_numeric_or_non_finite_cost(loaded: duckdb.DuckDBPyConnection, tmp_path: Path, value: str) -> None:
    data = rows(3, BilledCost=lambda i: value if i == 2 else "1.00")
    _refused(loaded, write_csv(tmp_path / "oct.csv", data), BadData, "column BilledCost", repr(value))


def test_nan_cost_in_parquet(loaded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = write_parquet(tmp_path / "oct.parquet", rows(2))
    table = pq.read_table(path)
    i = table.schema.get_field_index("EffectiveCost")
    table = table.set_column(i, "EffectiveCost", pa.array([1.0, float("nan")], pa.float64()))
    pq.write_table(table, path)
    _refused(loaded, path, BadData, "column EffectiveCost", "nan")


@pytest.mark.parametrize("value", ["2026-13-01T00:00:00Z", "yesterday", "10/05/2026"])
def test_bad_date(loaded: duckdb.DuckDBPyConnection, tmp_path: Path, value: str) -> None:
    data = rows(2, ChargePeriodStart=lambda i: value if i else "2026-10-05T00:00:00Z")
    _refused(loaded, write_csv(tmp_path / "oct.csv", data), BadData, "column ChargePeriodStart")


def test_unknown_billing_currency(loaded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    data = rows(2, BillingCurrency=lambda i: "XYZ" if i else "USD")
    _refused(loaded, write_csv(tmp_path / "oct.csv", data), UnknownCurrency, "'XYZ'", "ISO 4217")


def test_virtual_pricing_currency_is_accepted(loaded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # FOCUS 1.2 allows a virtual currency (credits, tokens) as PricingCurrency.
    data = rows(
        1,
        PricingCurrency="CREDITS",
        PricingCurrencyEffectiveCost="15",
        PricingCurrencyListUnitPrice="20",
        PricingCurrencyContractedUnitPrice="15",
        BillingPeriodStart="2026-09-01T00:00:00Z",
        BillingPeriodEnd="2026-10-01T00:00:00Z",
        ChargePeriodStart="2026-09-05T00:00:00Z",
        ChargePeriodEnd="2026-09-05T01:00:00Z",
    )
    result = ingest(loaded, FocusFiles([str(write_csv(tmp_path / "sep.csv", data))], source="s"))
    assert result.rows == 1
    assert loaded.execute("SELECT PricingCurrency FROM billing WHERE PricingCurrency <> 'USD'").fetchall() == [
        ("CREDITS",)
    ]


def test_truncated_parquet(loaded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "oct.parquet", rows(50))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _refused(loaded, path, BadData, "not a readable")


def test_truncated_gzip(loaded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # Big enough that the cut falls past DuckDB's sniffing sample: the failure comes mid-load.
    path = write_csv(tmp_path / "oct.csv.gz", rows(20_000, ResourceId=lambda i: f"i-{i:08x}"), gz=True)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])
    _refused(loaded, path, BadData)


def test_not_a_csv_at_all(loaded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "oct.csv.gz"
    path.write_bytes(gzip.compress(b"") + b"\x00garbage")
    with pytest.raises(SpendscopeError) as info:
        ingest(loaded, FocusFiles([str(path)], source="s"))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_one_bad_file_refuses_the_whole_delivery(loaded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write_csv(tmp_path / "d" / "part-1.csv", rows(5, BilledCost="9"))
    bad = write_csv(tmp_path / "d" / "part-2.csv", rows(1, BillingCurrency="ZZZ"))
    before = snapshot(loaded)
    with pytest.raises(UnknownCurrency, match=str(bad)):
        ingest(loaded, FocusFiles([str(tmp_path / "d")], source="s"))
    assert snapshot(loaded) == before


def test_empty_billing_account_is_refused(loaded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _refused(loaded, write_csv(tmp_path / "oct.csv", rows(2, BillingAccountId=None)), BadData, "BillingAccountId")


def test_the_same_file_twice_under_two_names_is_refused(loaded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "d" / "part-1.csv", rows(2))
    copy = tmp_path / "d" / "part-1 (copy).csv"
    copy.write_bytes(first.read_bytes())
    before = snapshot(loaded)
    with pytest.raises(BadData, match="counted twice") as info:
        ingest(loaded, FocusFiles([str(tmp_path / "d")], source="s"))
    assert str(first) in str(info.value) and str(copy) in str(info.value)
    assert snapshot(loaded) == before
