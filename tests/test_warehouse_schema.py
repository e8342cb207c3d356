"""The warehouse schema: FOCUS columns and types, migrations, version checks."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from spendscope import sql
from spendscope.errors import WarehouseError, WarehouseInUse
from spendscope.warehouse import db
from spendscope.warehouse.db import LATEST_VERSION, open_warehouse, schema_version

from .conftest import shared_path

SPEC_TYPES = {"Decimal": "DECIMAL(38,12)", "Date/Time": "TIMESTAMP WITH TIME ZONE", "String": "VARCHAR", "JSON": "JSON"}


def test_billing_has_every_focus_1_2_column_with_its_spec_type(wh: duckdb.DuckDBPyConnection) -> None:
    with shared_path("data", "focus-spec", "focus_columns_v1.2.csv").open() as fh:
        spec = list(csv.DictReader(fh))
    assert len(spec) == 57
    actual = dict(
        wh.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'billing'"
        ).fetchall()
    )
    for col in spec:
        assert col["ColumnId"] in actual, col["ColumnId"]
        assert actual[col["ColumnId"]] == SPEC_TYPES[col["DataType"]], col["ColumnId"]
    extra = [c for c in actual if c not in {r["ColumnId"] for r in spec}]
    # FOCUS 1.3 additions and x_-prefixed extensions only
    focus_1_3 = {
        "AllocatedMethodDetails",
        "AllocatedMethodId",
        "AllocatedResourceId",
        "AllocatedResourceName",
        "AllocatedTags",
        "ContractApplied",
        "HostProviderName",
        "ServiceProviderName",
    }
    assert all(c.startswith("x_") or c in focus_1_3 for c in extra), extra
    assert {"x_IngestId", "x_SourceFile"} <= set(extra)


def test_later_tables_exist(wh: duckdb.DuckDBPyConnection) -> None:
    tables = {r[0] for r in wh.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {
        "billing",
        "ingests",
        "ingest_totals",
        "inventory",
        "transactions",
        "findings",
        "tickets",
        "schema_version",
    } <= tables


def test_newer_warehouse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    open_warehouse(path).close()
    conn = duckdb.connect(str(path))
    conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', now())")
    conn.close()
    with pytest.raises(WarehouseError, match="version 99 is newer"):
        open_warehouse(path)


def test_older_warehouse_is_migrated_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.duckdb"
    open_warehouse(path).close()
    # A later release ships a second migration: opening the version-1 file upgrades it in place.
    shipped = db.migrations()
    extra = db.Migration(LATEST_VERSION + 1, "add test column", "test/extra")
    monkeypatch.setattr(db, "migrations", lambda: [*shipped, extra])
    monkeypatch.setattr(db, "LATEST_VERSION", LATEST_VERSION + 1)
    real_load = sql.load
    monkeypatch.setattr(
        sql,
        "load",
        lambda name: "ALTER TABLE billing ADD COLUMN x_Test VARCHAR" if name == "test/extra" else real_load(name),
    )
    conn = open_warehouse(path)
    assert schema_version(conn) == LATEST_VERSION + 1
    cols = {
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'billing'"
        ).fetchall()
    }
    assert "x_Test" in cols
    conn.close()


def test_second_writer_gets_in_use_message(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "w.duckdb"
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from spendscope.warehouse.db import open_warehouse; "
            f"c = open_warehouse({str(path)!r}); print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
            with pytest.raises(WarehouseInUse, match=rf"warehouse in use by pid {holder.pid}"):
                open_warehouse(path)
        finally:
            holder.kill()


def test_every_sql_file_opens_with_a_comment() -> None:
    for folder in ("checks", "deviations", "doctor", "ledger", "normalize", "queries", "migrations"):
        for name in sql.names(folder):
            assert sql.load(name).lstrip().startswith("--"), name


def test_a_migration_missing_below_the_highest_applied_one_still_runs(tmp_path: Path) -> None:
    path = tmp_path / "gap.duckdb"
    conn = open_warehouse(path)
    # A development warehouse that got migration 9 before migration 4 was merged.
    conn.execute("DROP TABLE allocated_daily")
    conn.execute("DELETE FROM schema_version WHERE version = 4")
    conn.close()
    conn = open_warehouse(path)
    try:
        assert conn.execute("SELECT count(*) FROM allocated_daily").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM schema_version WHERE version = 4").fetchone() == (1,)
    finally:
        conn.close()
