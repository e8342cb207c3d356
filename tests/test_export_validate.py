"""The FOCUS export of the generated multi-cloud month passes the FinOps Foundation's validator.

The validator (PyPI focus-validator 2.2.1, run by ../shared/tools/focus-validate) proves little about
money, so spendscope's own tests check sums; this proves the file's shape, types and rule conformance.
No rule is ignored here beyond the wrapper's documented validator bugs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spendscope.collectors.focus import FocusFiles
from spendscope.exporters.focus_file import export_focus
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse

from .conftest import shared_path


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from spendscope.generator import generate

    tmp = tmp_path_factory.mktemp("export")
    result = generate(tmp / "data", rows=20_000, seed=7, month="2026-10")
    conn = open_warehouse(tmp / "wh.duckdb")
    for provider in ("aws", "azure", "gcp"):
        ingest(conn, FocusFiles([str(tmp / "data" / "focus" / provider)], source=f"demo-{provider}"))
    out = tmp / "focus-2026-10.parquet"
    export_focus(conn, period="2026-10", out=out)
    conn.close()
    assert result.files
    return out, tmp / "data"


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    tool = shared_path("tools", "focus-validate")
    return subprocess.run([str(tool), str(path)], capture_output=True, text=True, timeout=900)


def test_export_passes_the_official_validator(demo_export: tuple[Path, Path]) -> None:
    out, _ = demo_export
    proc = _validate(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("PASS")


def test_export_keeps_every_row_and_cent(demo_export: tuple[Path, Path]) -> None:
    out, data = demo_export
    raw = duckdb.connect()
    files = [str(p) for p in sorted((data / "focus").rglob("*.parquet"))]
    expected = raw.execute(
        "SELECT BillingCurrency, count(*), sum(BilledCost), sum(EffectiveCost) FROM read_parquet($f) "
        "GROUP BY 1 ORDER BY 1",
        {"f": files},
    ).fetchall()
    got = raw.execute(
        "SELECT BillingCurrency, count(*), sum(BilledCost), sum(EffectiveCost) FROM read_parquet($f) "
        "GROUP BY 1 ORDER BY 1",
        {"f": str(out)},
    ).fetchall()
    assert got == expected
    assert {r[0] for r in got} == {"USD", "EUR"}


def test_a_broken_file_fails_the_validator(demo_export: tuple[Path, Path], tmp_path: Path) -> None:
    out, _ = demo_export
    table = pq.read_table(out)
    # Break two rules a correct file meets: an unknown ChargeCategory, and a dropped mandatory column.
    i = table.schema.get_field_index("ChargeCategory")
    broken = table.set_column(i, "ChargeCategory", pa.array(["Refund"] * table.num_rows, pa.string()))
    broken = broken.drop_columns(["BillingCurrency"])
    path = tmp_path / "broken.parquet"
    pq.write_table(broken, path)
    proc = _validate(path)
    assert proc.returncode == 1, proc.stdout
    assert "ChargeCategory" in proc.stdout and "BillingCurrency" in proc.stdout


def test_export_money_columns_are_decimal(demo_export: tuple[Path, Path]) -> None:
    out, _ = demo_export
    schema = pq.read_schema(out)
    assert schema.field("BilledCost").type == pa.decimal128(38, 12)
    assert schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert schema.field("Tags").type == pa.string()
