"""`spendscope ingest gcp FILE` through the real CLI: totals equal cost + credits from the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from spendscope.generator import generate
from spendscope.generator.gcp_export import write_gcp_export


def test_ingest_gcp_cli_local_jsonl(tmp_path: Path) -> None:
    generate(tmp_path / "bill", rows=8000, seed=9)
    export = write_gcp_export(tmp_path / "bill" / "focus" / "gcp", tmp_path / "gcp")
    wh = tmp_path / "w.duckdb"
    cmd = [sys.executable, "-m", "spendscope.cli", "--warehouse", str(wh), "ingest", "gcp", str(export.jsonl)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "unchanged" in again.stdout
    # Independent route: what the export says is invoiced, cost plus every credit, per currency.
    expected = (
        duckdb.connect()
        .execute(
            "SELECT currency, (sum(cost) + sum(coalesce((SELECT sum(c.amount) FROM unnest(credits) AS t(c)), 0)))"
            "::DECIMAL(38, 4) FROM read_json($f, format = 'newline_delimited') GROUP BY 1",
            {"f": str(export.jsonl)},
        )
        .fetchall()
    )
    conn = duckdb.connect(str(wh), read_only=True)
    got = conn.execute("SELECT BillingCurrency, sum(BilledCost)::DECIMAL(38, 4) FROM billing GROUP BY 1").fetchall()
    conn.close()
    assert got == expected and got[0][0] == "USD"
