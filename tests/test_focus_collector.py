"""FOCUS collector: versions 1.0–1.3, formats, column-name hygiene, and money parsed exactly (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spendscope.collectors.focus import FocusFiles, quote_ident
from spendscope.focus import version_columns
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse

from .conftest import BASE_ROW, rows, write_csv, write_parquet


def _only(columns: list[str], data: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: r[k] for k in columns} for r in data]


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_each_version_ingests_with_its_own_columns(wh: duckdb.DuckDBPyConnection, tmp_path: Path, version: str) -> None:
    cols = [c.name for c in version_columns(version) if c.name in BASE_ROW]  # type: ignore[arg-type]
    f = write_csv(tmp_path / f"v{version}.csv", _only(cols, rows(2)))
    result = ingest(wh, FocusFiles([str(f)], source="s"))
    assert result.rows == 2
    assert result.deviations.get(str(f), {}).get("focus_version", "1.2") == version or version == "1.2"
    got = wh.execute(
        "SELECT sum(BilledCost), any_value(PricingCurrency), any_value(ServiceName) FROM billing"
    ).fetchone()
    assert got == (Decimal("3.00"), "USD", "Amazon EC2")  # 2 × 1.50; PricingCurrency derived for < 1.2


def test_focus_1_3_provider_columns(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    data = [{k: v for k, v in r.items() if k not in ("ProviderName", "PublisherName")} for r in rows(2)]
    for r in data:
        r.update(ServiceProviderName="AWS", HostProviderName="AWS", AllocatedMethodId=None, ContractApplied=None)
    f = write_csv(tmp_path / "v13.csv", data)
    result = ingest(wh, FocusFiles([str(f)], source="s"))
    assert result.deviations[str(f)]["focus_version"] == "1.3"
    assert wh.execute("SELECT DISTINCT ProviderName, PublisherName, ServiceProviderName FROM billing").fetchall() == [
        ("AWS", "AWS", "AWS")
    ]


def test_csv_gzip_and_parquet_give_the_same_rows(tmp_path: Path) -> None:
    data = rows(5, BilledCost=lambda i: f"{i}.125", EffectiveCost=lambda i: f"-{i}.5")
    totals = []
    for f in (
        write_csv(tmp_path / "a.csv", data),
        write_csv(tmp_path / "a.csv.gz", data, gz=True),
        write_parquet(tmp_path / "a.parquet", data),
    ):
        conn = open_warehouse(":memory:")
        ingest(conn, FocusFiles([str(f)], source="s"))
        totals.append(conn.execute("SELECT sum(BilledCost), sum(EffectiveCost), count(*) FROM billing").fetchone())
        conn.close()
    # 0.125 + 1.125 + … + 4.125 = 10.625 ; -(0.5 + 1.5 + … + 4.5) = -12.5
    assert totals == [(Decimal("10.625"), Decimal("-12.5"), 5)] * 3


def test_column_names_with_case_bom_and_spaces(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    data = [
        {("\ufeffbilledcost" if k == "BilledCost" else f" {k} " if k == "ServiceName" else k): v for k, v in r.items()}
        for r in rows(2)
    ]
    f = write_csv(tmp_path / "odd.csv", data)
    result = ingest(wh, FocusFiles([str(f)], source="s"))
    assert wh.execute("SELECT sum(BilledCost) FROM billing").fetchone() == (Decimal("3.00"),)
    renamed = result.deviations[str(f)]["columns_renamed"]
    assert list(renamed.values()) == ["BilledCost"]  # type: ignore[union-attr]  # (DuckDB trims header spaces)
    assert wh.execute("SELECT DISTINCT ServiceName FROM billing").fetchall() == [("Amazon EC2",)]


def test_hostile_column_name_is_kept_as_data_not_sql(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    evil = 'x_"); DROP TABLE billing; --'
    data = rows(1)
    data[0][evil] = "payload"
    f = write_csv(tmp_path / "evil.csv", data)
    ingest(wh, FocusFiles([str(f)], source="s"))
    kept = wh.execute("SELECT x_Extensions FROM billing").fetchone()
    assert kept is not None and "payload" in kept[0]
    assert quote_ident(evil) == '"x_""); DROP TABLE billing; --"'


def test_tags_that_are_not_json_are_kept_raw(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "t.csv", rows(2, Tags=lambda i: "team=payments" if i else '{"team": "a"}'))
    result = ingest(wh, FocusFiles([str(f)], source="s"))
    assert result.deviations[str(f)]["rows"] == {  # type: ignore[index]
        "Tags is not a JSON object (raw text kept in x_Extensions.Tags_unparsed)": 1
    }
    assert wh.execute("SELECT count(*) FROM billing WHERE Tags IS NULL").fetchone() == (1,)


money = st.decimals(
    min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=12, allow_nan=False, allow_infinity=False
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(costs=st.lists(st.tuples(money, money), min_size=1, max_size=30), fmt=st.sampled_from(["csv", "parquet"]))
def test_money_round_trips_exactly(
    tmp_path_factory: pytest.TempPathFactory, costs: list[tuple[Decimal, Decimal]], fmt: str
) -> None:
    tmp = tmp_path_factory.mktemp("h")
    data = rows(len(costs), BilledCost=lambda i: str(costs[i][0]), EffectiveCost=lambda i: str(costs[i][1]))
    f = write_csv(tmp / "h.csv", data) if fmt == "csv" else write_parquet(tmp / "h.parquet", data)
    conn = open_warehouse(":memory:")
    ingest(conn, FocusFiles([str(f)], source="s"))
    got = conn.execute("SELECT sum(BilledCost), sum(EffectiveCost) FROM billing").fetchone()
    conn.close()
    assert got == (sum(c[0] for c in costs), sum(c[1] for c in costs))
