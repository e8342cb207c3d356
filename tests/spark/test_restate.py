"""Re-running a period is a no-op; restating one period rewrites only its partitions and its warehouse unit.

Expected totals come from the CUR files themselves (Σ line_item_unblended_cost is the invoice, which the
mapping's BilledCost must sum to), read here with DuckDB — not from the Spark path under test.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spendscope.collectors.sources import AwsSource
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.spark.ingest import ingest_source_config
from spendscope.warehouse.spark.settings import SparkSettings
from tests.spark.conftest import PERIODS, TEST_CONF


def _raw_invoice(root: Path) -> dict[str, Decimal]:
    files = sorted(root.rglob("data/BILLING_PERIOD=*/*.parquet"))
    rows = (
        duckdb.connect()
        .execute(
            "SELECT strftime(bill_billing_period_start_date AT TIME ZONE 'UTC', '%Y-%m'), "
            "sum(CAST(line_item_unblended_cost AS DECIMAL(38, 12))) FROM read_parquet($f) GROUP BY 1",
            {"f": [str(f) for f in files]},
        )
        .fetchall()
    )
    return {str(p): Decimal(v) for p, v in rows}


def _billed(conn: duckdb.DuckDBPyConnection) -> dict[str, Decimal]:
    rows = conn.execute(
        "SELECT strftime(BillingPeriodStart AT TIME ZONE 'UTC', '%Y-%m'), sum(BilledCost) FROM billing GROUP BY 1"
    ).fetchall()
    return {str(p): Decimal(v) for p, v in rows}


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*.parquet")}


def _ledger(conn: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT ingest_id, strftime(billing_period_start AT TIME ZONE 'UTC', '%Y-%m'), status "
        "FROM ingests ORDER BY 1, 2"
    ).fetchall()


def test_rerun_is_a_no_op_and_a_restated_period_replaces_only_itself(spark: Any, bill: Path, tmp_path: Path) -> None:
    cur = tmp_path / "cur2"
    shutil.copytree(bill / "cur" / "cur2", cur)
    cfg = AwsSource(name="aws", collector="aws", location=str(cur))
    settings = SparkSettings(location=str(tmp_path / "lake"), conf=TEST_CONF)
    conn = open_warehouse(tmp_path / "wh.duckdb")

    first = ingest_source_config(conn, cfg, settings, spark=spark)
    assert [r.status for r in first] == ["loaded"] * 3
    assert _billed(conn) == _raw_invoice(cur)  # Σ BilledCost = Σ unblended cost, per period
    ledger, lake = _ledger(conn), _files(tmp_path / "lake")

    again = ingest_source_config(conn, cfg, settings, spark=spark)
    assert [r.status for r in again] == ["unchanged"] * 3
    assert _ledger(conn) == ledger
    assert _files(tmp_path / "lake") == lake  # Spark did not even run

    # Restate 2026-11: AWS redelivers the month with every Usage line's cost doubled.
    (nov,) = cur.rglob("data/BILLING_PERIOD=2026-11/*.parquet")
    table = pq.read_table(nov)
    usage = pc.equal(table["line_item_line_item_type"], "Usage")
    doubled = pc.if_else(usage, pc.multiply(table["line_item_unblended_cost"], 2.0), table["line_item_unblended_cost"])
    index = table.schema.get_field_index("line_item_unblended_cost")
    pq.write_table(table.set_column(index, "line_item_unblended_cost", doubled), nov)
    before = _billed(conn)
    expected = _raw_invoice(cur)
    assert expected["2026-11"] != before["2026-11"]

    restated = ingest_source_config(conn, cfg, settings, spark=spark)
    assert sorted(r.status for r in restated) == ["loaded", "unchanged", "unchanged"]
    (unit,) = [u for r in restated for u in r.units]
    assert unit.replaces is not None
    assert _billed(conn) == expected
    assert {p: v for p, v in _billed(conn).items() if p != "2026-11"} == {
        p: v for p, v in before.items() if p != "2026-11"
    }
    now = _files(tmp_path / "lake")
    for path, mtime in lake.items():
        if "billing_period=2026-11" in path:
            assert now.get(path) != mtime, path  # rewritten
        else:
            assert now.get(path) == mtime, path  # untouched: the other partitions were not overwritten
    kept = [row for row in _ledger(conn) if row[1] != "2026-11"]
    assert kept == [row for row in ledger if row[1] != "2026-11"]
    assert sorted(p for _, p, s in _ledger(conn) if s == "loaded") == list(PERIODS)

    # Forgetting the input fingerprints makes Spark recompute everything: the rollup files come out
    # byte-identical, so every load is the ledger's unchanged no-op.
    conn.execute("DELETE FROM collector_state WHERE source = $s", {"s": restated[0].source})
    recomputed = ingest_source_config(conn, cfg, settings, spark=spark)
    assert [r.status for r in recomputed] == ["unchanged"] * 3
    conn.close()


def test_keep_resource_ids_false_drops_them_and_keeps_the_money(spark: Any, bill: Path, tmp_path: Path) -> None:
    cfg = AwsSource(name="aws", collector="aws", location=str(bill / "cur" / "cur2"))
    settings = SparkSettings(location=str(tmp_path / "lake"), conf=TEST_CONF, keep_resource_ids=False)
    conn = open_warehouse(tmp_path / "wh.duckdb")
    ingest_source_config(conn, cfg, settings, spark=spark)
    row = conn.execute("SELECT count(*) FILTER (WHERE ResourceId IS NOT NULL), count(*) FROM billing").fetchone()
    assert row is not None and row[0] == 0 and row[1] > 0
    assert _billed(conn) == _raw_invoice(bill / "cur" / "cur2")
    conn.close()
