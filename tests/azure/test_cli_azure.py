"""`spendscope ingest azure az://…` through the real CLI against Azurite, with the connection string
from the environment: totals match the uploaded exports and the secret is never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from spendscope.generator import generate
from spendscope.generator.azure_exports import upload_tree, write_azure_exports
from tests.servers.azurite import Azurite


def test_ingest_azure_cli_from_azurite(azurite_server: Azurite, azurite_container: Any, tmp_path: Path) -> None:
    generate(tmp_path / "bill", rows=8000, seed=5)
    exports = write_azure_exports(tmp_path / "bill" / "focus" / "azure", tmp_path / "exports")
    upload_tree(exports.root, azurite_container)
    env = {**os.environ, "SPENDSCOPE_AZURE__CONNECTION_STRING": azurite_server.connection_string}
    wh = tmp_path / "w.duckdb"
    cmd = [
        sys.executable,
        "-m",
        "spendscope.cli",
        "--warehouse",
        str(wh),
        "-v",
        "ingest",
        "azure",
        f"az://{azurite_container.container_name}/{exports.directory}",
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and "unchanged" in again.stdout
    account_key = azurite_server.connection_string.split("AccountKey=")[1].split(";")[0]
    for proc in (first, again):
        assert account_key not in proc.stdout + proc.stderr
    # Independent route: the generator's Azure FOCUS files (EUR) hold the same bill.
    files = [str(p) for p in sorted((tmp_path / "bill" / "focus" / "azure").rglob("*.parquet"))]
    expected = (
        duckdb.connect()
        .execute(
            "SELECT BillingCurrency, sum(BilledCost)::DECIMAL(38, 4), sum(EffectiveCost)::DECIMAL(38, 4) "
            "FROM read_parquet($f) GROUP BY 1",
            {"f": files},
        )
        .fetchall()
    )
    conn = duckdb.connect(str(wh), read_only=True)
    got = conn.execute(
        "SELECT BillingCurrency, sum(BilledCost)::DECIMAL(38, 4), sum(EffectiveCost)::DECIMAL(38, 4) FROM billing "
        "GROUP BY 1"
    ).fetchall()
    leaked = conn.execute(
        "SELECT count(*) FROM ingests WHERE CAST(files AS VARCHAR) LIKE $k OR error LIKE $k", {"k": f"%{account_key}%"}
    ).fetchone()
    conn.close()
    assert got == expected and got[0][0] == "EUR"
    assert leaked == (0,)
