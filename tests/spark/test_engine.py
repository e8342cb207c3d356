"""``engine = "spark"`` end to end through the CLI and the scheduled cycle, and bad input through Spark.

The CLI runs in this process (typer's CliRunner), so its SparkSession is the test session (getOrCreate).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spendscope.cli import app
from spendscope.collectors.sources import AwsSource
from spendscope.errors import BadData
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.spark.ingest import ingest_source_config
from spendscope.warehouse.spark.settings import SparkSettings
from tests.spark.conftest import PERIODS, TEST_CONF

runner = CliRunner()


def _config(tmp_path: Path, cur: Path) -> Path:
    conf = ", ".join(f'"{k}" = "{v}"' for k, v in TEST_CONF.items())
    path = tmp_path / "spendscope.toml"
    path.write_text(
        f'warehouse = "{tmp_path / "wh.duckdb"}"\nengine = "spark"\n\n'
        f'[spark]\nlocation = "{tmp_path / "lake"}"\nconf = {{ {conf} }}\n\n'
        f'[[sources]]\nname = "aws-cur"\ncollector = "aws"\nlocation = "{cur}"\n'
    )
    return path


def test_ingest_sources_and_explain_run_through_spark(spark: Any, bill: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, bill / "cur" / "cur2")
    first = runner.invoke(app, ["--config", str(config), "ingest", "sources"])
    assert first.exit_code == 0, first.output
    conn = open_warehouse(tmp_path / "wh.duckdb")
    ledger = conn.execute(
        "SELECT collector, strftime(billing_period_start AT TIME ZONE 'UTC', '%Y-%m') FROM ingests "
        "WHERE status = 'loaded' ORDER BY 2"
    ).fetchall()
    assert ledger == [("spark", p) for p in PERIODS]
    runs = conn.execute("SELECT collector, status FROM collector_runs").fetchall()
    assert runs == [("spark", "loaded")]
    conn.close()

    again = runner.invoke(app, ["--config", str(config), "ingest", "sources"])
    assert again.exit_code == 0, again.output
    conn = open_warehouse(tmp_path / "wh.duckdb")
    assert conn.execute("SELECT count(*) FROM ingests").fetchone() == (len(PERIODS),)
    conn.close()

    plan = runner.invoke(app, ["--config", str(config), "spark", "explain", "--period", "2026-11"])
    assert plan.exit_code == 0, plan.output
    assert "normalize" in plan.output and "daily rollup" in plan.output
    assert "HashAggregate" in plan.output and "BroadcastHashJoin" in plan.output  # categories are broadcast


def test_scheduled_cycle_routes_through_spark(spark: Any, bill: Path, tmp_path: Path) -> None:
    from spendscope.config import load_settings
    from spendscope.service.cycle import ingest_configured

    settings = load_settings(_config(tmp_path, bill / "cur" / "cur2"))
    conn = open_warehouse(tmp_path / "wh.duckdb")
    (outcome,) = ingest_configured(conn, settings.sources[0], settings)
    assert (outcome.status, outcome.rows > 0) == ("loaded", True)
    (again,) = ingest_configured(conn, settings.sources[0], settings)
    assert again.status == "unchanged"
    conn.close()


def test_a_corrupt_file_is_one_error_naming_it_and_nothing_changes(spark: Any, bill: Path, tmp_path: Path) -> None:
    cur = tmp_path / "cur2"
    shutil.copytree(bill / "cur" / "cur2", cur)
    settings = SparkSettings(location=str(tmp_path / "lake"), conf=TEST_CONF)
    cfg = AwsSource(name="aws", collector="aws", location=str(cur))
    conn = open_warehouse(tmp_path / "wh.duckdb")
    ingest_source_config(conn, cfg, settings, spark=spark)
    before = conn.execute("SELECT count(*), sum(BilledCost) FROM billing").fetchone()
    ledger = conn.execute("SELECT ingest_id, status FROM ingests ORDER BY 1").fetchall()

    (nov,) = cur.rglob("data/BILLING_PERIOD=2026-11/*.parquet")
    nov.write_bytes(b"PAR1" + b"\x00" * 64 + b"not parquet")  # a truncated / corrupt redelivery
    with pytest.raises(BadData) as caught:
        ingest_source_config(conn, cfg, settings, spark=spark)
    message = str(caught.value)
    assert "\n" not in message and nov.name in message
    assert conn.execute("SELECT count(*), sum(BilledCost) FROM billing").fetchone() == before
    assert conn.execute("SELECT ingest_id, status FROM ingests ORDER BY 1").fetchall() == ledger
    failed = conn.execute("SELECT status, error FROM collector_runs WHERE status = 'failed'").fetchall()
    assert len(failed) == 1 and nov.name in failed[0][1]
    conn.close()


def test_without_java_the_session_is_one_line_error(tmp_path: Path) -> None:
    """A machine without java (PATH holds only a shell): one WarehouseError line naming the master."""
    import subprocess
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "env", "dirname", "uname", "basename"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    code = (
        "from spendscope.errors import WarehouseError\n"
        "from spendscope.warehouse.spark.session import build_session\n"
        "from spendscope.warehouse.spark.settings import SparkSettings\n"
        "try:\n    build_session(SparkSettings())\nexcept WarehouseError as e:\n    print(e)\n"
    )
    env = {"PATH": str(bin_dir), "JAVA_HOME": str(tmp_path / "no-java"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[spark] master local[2]: cannot start a Spark session"), out
