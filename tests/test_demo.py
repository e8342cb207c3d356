"""`spendscope demo` (the README's first command) and `spendscope generate` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spendscope.cli", *args], capture_output=True, text=True, timeout=600)


def test_demo_builds_the_warehouse_and_says_where_to_look(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    first = _run("demo", "--dir", str(demo_dir), "--rows", "20000")
    assert first.returncode == 0, first.stderr
    warehouse = demo_dir / "warehouse.duckdb"
    assert warehouse.is_file()
    expected_lines = (
        "by provider",
        "top services",
        "by team",
        str(warehouse),
        "metrics serve",
        " serve ",
        "costs --by",
    )
    for expected in expected_lines:
        assert expected in first.stdout, expected
    # The warehouse holds exactly the generated files' rows and money (independent read of the files).
    files = [str(p) for p in sorted((demo_dir / "data" / "focus").rglob("*.parquet"))]
    raw = duckdb.connect()
    expected_totals = raw.execute(
        "SELECT BillingCurrency, count(*), sum(BilledCost) FROM read_parquet($f) GROUP BY 1 ORDER BY 1", {"f": files}
    ).fetchall()
    conn = duckdb.connect(str(warehouse), read_only=True)
    got = conn.execute(
        "SELECT BillingCurrency, count(*), sum(BilledCost) FROM billing GROUP BY 1 ORDER BY 1"
    ).fetchall()
    tx = conn.execute("SELECT count(*) FROM transactions").fetchone()
    # The demo analysed what it loaded: every job stored its results.
    stored = {
        table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        for table in ("allocated_daily", "untagged_daily", "unit_costs", "commitment_utilization", "budget_status")
    }
    anomalies = conn.execute("SELECT count(*) FROM findings WHERE kind = 'anomaly'").fetchone()
    failed = conn.execute("SELECT count(*) FROM analysis_runs WHERE status <> 'succeeded'").fetchone()
    conn.close()
    assert all(n is not None and n[0] > 0 for n in stored.values()), stored
    assert anomalies is not None and anomalies[0] > 0 and failed == (0,)
    assert "anomalies" in first.stdout and "budgets as of" in first.stdout
    report = demo_dir / "report" / "report.html"
    assert report.is_file() and str(report) in first.stdout.replace("\n", "")
    assert "<svg" in report.read_text() and (demo_dir / "report" / "costs_by_team.csv").is_file()
    assert got == expected_totals
    assert tx is not None and tx[0] > 0
    # Idempotent: a second run loads nothing new.
    second = _run("demo", "--dir", str(demo_dir), "--rows", "20000")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("unchanged") == 3
    conn = duckdb.connect(str(warehouse), read_only=True)
    assert conn.execute("SELECT count(*) FROM billing").fetchone() == (sum(r[1] for r in expected_totals),)
    conn.close()


def test_generate_then_ingest_reports_rows_per_second(tmp_path: Path) -> None:
    out = tmp_path / "bill"
    gen = _run("generate", "--out", str(out), "--rows", "30000", "--months", "2", "--seed", "3")
    assert gen.returncode == 0, gen.stderr
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["months"] == 2
    wh = tmp_path / "wh.duckdb"
    ing = _run("--warehouse", str(wh), "ingest", "focus", str(out / "focus"), "--source", "bill")
    assert ing.returncode == 0, ing.stderr
    assert "rows/s" in ing.stdout and "2026-10" in ing.stdout and "2026-11" in ing.stdout
